package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/countlab/countlab/engine/event"
)

// Kind says what a generated item is.
type Kind uint8

const (
	// KindFresh is a new distinct event.
	KindFresh Kind = iota
	// KindDuplicate re-sends an earlier fresh event with the same id.
	KindDuplicate
	// KindMalformed is an event the gateway and the engine must reject.
	KindMalformed
)

func (k Kind) String() string {
	switch k {
	case KindFresh:
		return "fresh"
	case KindDuplicate:
		return "duplicate"
	case KindMalformed:
		return "malformed"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Item is one thing to send.
type Item struct {
	// At is the intended send time from the start of the run.
	At time.Duration
	// Seq numbers the distinct event (a duplicate carries its original's);
	// the event id is the generator's IDPrefix followed by Seq.
	Seq  uint64
	Kind Kind
	// Late is set on an event generated to arrive after its window closed
	// (beyond the allowed lateness): the engine does not count it until a
	// reconcile.
	Late bool
	// Tracer marks a tracer event: a fresh event of its own key
	// ("<KeyPrefix>tracer-N"), never duplicated, whose arrival in the
	// query service measures end-to-end freshness.
	Tracer bool
	// Event is the event (for KindMalformed: an invalid one; for a
	// protobuf item with RawProto, the event it decodes to).
	Event event.Event
	// Raw, for some KindMalformed and hostile items, is the JSON to send
	// instead of Event (what Event cannot express: raw bytes, escapes,
	// members, number forms); nil otherwise.
	Raw []byte
	// RawProto is the same for the protobuf format: the countlab.v1.Event
	// bytes to send instead of Event's encoding; nil otherwise.
	RawProto []byte
	// Route is the item's entry point, an index into Config.Routes (a
	// duplicate re-draws it; the second of a same-id pair keeps it).
	Route uint8
	// Hostile is the hostile kind of a hostile item (HostileKinds), ""
	// otherwise. A hostile item the contract accepts is KindFresh (or
	// KindDuplicate for the second of a same-id pair) and is counted; one
	// it refuses is KindMalformed.
	Hostile string
	// Code and Acked are written by the Transport on each send. Code is
	// the receiver's reason code of a Rejected item ("" when it gave
	// none). Acked says the receiver acknowledged the item even though its
	// outcome is Rejected: Kafka took a malformed event produced straight
	// to it (the engine dead-letters it).
	Code  string
	Acked bool
	// withNext: the next item must go in the same batch, after this one
	// (a same-id pair: the first in the log is known).
	withNext bool
	// origin is the intended send time of the fresh event a duplicate
	// copies (its own At for a fresh one): see DupHorizon.
	origin time.Duration
}

// Route is one entry point of a traffic mix: its share of the items
// (a weight, relative to the others) and the wire format its transport
// sends. The generator needs the format for the items whose bytes or
// verdict depend on it (Item.Raw or RawProto, and protobuf's rules for
// unknown and repeated fields).
type Route struct {
	Weight float64
	Format Format
	// Direct: the route produces straight to Kafka (oracle.Sent.Direct).
	Direct bool
}

// Disorder shapes event times against send times.
type Disorder struct {
	// OutOfOrder is the fraction of events whose event time is up to
	// MaxDelay before their send time (still within the allowed lateness).
	OutOfOrder float64
	MaxDelay   time.Duration
	// TooLate is the fraction of events whose event time is LateBy before
	// their send time: later than the allowed lateness. None are made in
	// the first LateAfter of the run, so the engine's watermark is set.
	TooLate   float64
	LateBy    time.Duration
	LateAfter time.Duration
	// ClockSkew shifts every event time by a fixed amount per client;
	// Clients clients, picked per event (0 or 1: no skew).
	ClockSkew time.Duration
	Clients   int
}

// Duplicates says how often events are re-sent with the same id.
type Duplicates struct {
	// Fraction of the items that are duplicates of a recent fresh event.
	Fraction float64
	// Burst is how many times in a row a duplicate is re-sent (1 when 0).
	Burst int
	// Recent is how many recent fresh events duplicates are drawn from
	// (1024 when 0).
	Recent int
}

// MalformedKinds are the kinds of malformed events the generator makes.
var MalformedKinds = []string{"type", "key", "ts", "value_text", "ts_text", "dims", "unknown_field"}

// Malformed says how often invalid events are sent.
type Malformed struct {
	// Fraction of the items that are malformed.
	Fraction float64
	// Kinds to cycle through (MalformedKinds when empty).
	Kinds []string
}

// Config is a generator's setup.
type Config struct {
	// Seed makes the stream reproducible.
	Seed uint64
	// IDPrefix starts every event id (unique per run, e.g. "r1-").
	IDPrefix string
	// KeyPrefix starts every counted key ("k" when empty).
	KeyPrefix string
	// Start is the wall-clock time of the run's start: an event's time is
	// Start + its intended send time, shifted by disorder.
	Start      time.Time
	Keys       Keys
	Types      []TypeSpec
	Dims       []DimSpec
	Disorder   Disorder
	Duplicates Duplicates
	Malformed  Malformed
	// Hostile mixes in hostile events (see HostileKinds).
	Hostile Hostile
	// Routes are the entry points items are spread over (Item.Route), with
	// the Transport (a Mix) sending each item by its route. Empty: one
	// JSON route.
	Routes []Route
}

// Generator makes the items of a run. It is not safe for concurrent use.
type Generator struct {
	cfg     Config
	r       *rand.Rand
	start   int64
	cumW    []float64
	dims    []dimPicker
	seq     uint64
	recent  []Item
	pending []Item // the rest of a duplicate burst
	malN    int
	tracers int
	burstP  float64 // probability that a Next starts a duplicate burst
	skews   []int64
	stats   Stats
	faults  clockFaults
	routeW  []float64 // cumulative route weights, nil for one route
	host    hostileState
	dupHor  dupHorizon
	names   []string // key names by index below maxCachedKeys, made on first use
}

// maxCachedKeys bounds the key names a generator keeps: a key set this
// small (every scenario's) names each key once, not once an event.
const maxCachedKeys = 1 << 16

// Stats counts what a generator made.
type Stats struct {
	Fresh, Duplicates, Malformed, Late, OutOfOrder int64
	// Hostile is the hostile items made (of every kind, counted apart
	// from Fresh, Duplicates and Malformed).
	Hostile int64
}

// NewGenerator checks cfg and returns its generator.
func NewGenerator(cfg Config) (*Generator, error) {
	if cfg.Keys == nil {
		return nil, errors.New("sim: no Keys")
	}
	if len(cfg.Types) == 0 {
		return nil, errors.New("sim: no event types")
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "k"
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Now()
	}
	g := &Generator{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), start: cfg.Start.UnixMilli(),
		faults: newClockFaults(cfg.Seed)}
	var w float64
	for _, t := range cfg.Types {
		if t.Weight <= 0 || t.Values == nil {
			return nil, fmt.Errorf("sim: type %q needs a weight > 0 and values", t.Name)
		}
		w += t.Weight
		g.cumW = append(g.cumW, w)
	}
	dims := slices.Clone(cfg.Dims)
	slices.SortFunc(dims, func(a, b DimSpec) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	for _, d := range dims {
		p, err := newDimPicker(d)
		if err != nil {
			return nil, err
		}
		g.dims = append(g.dims, p)
	}
	if len(g.cfg.Routes) == 0 {
		g.cfg.Routes = []Route{{Weight: 1, Format: JSON}}
	}
	if len(g.cfg.Routes) > 256 {
		return nil, errors.New("sim: at most 256 routes")
	}
	if len(g.cfg.Routes) > 1 {
		var w float64
		for _, r := range g.cfg.Routes {
			if !(r.Weight > 0) {
				return nil, errors.New("sim: every route needs a weight > 0")
			}
			w += r.Weight
			g.routeW = append(g.routeW, w)
		}
	}
	if err := g.host.init(cfg.Hostile); err != nil {
		return nil, err
	}
	if len(cfg.Malformed.Kinds) == 0 {
		g.cfg.Malformed.Kinds = MalformedKinds
	}
	if g.cfg.Duplicates.Recent <= 0 {
		g.cfg.Duplicates.Recent = 1024
	}
	if g.cfg.Duplicates.Burst <= 0 {
		g.cfg.Duplicates.Burst = 1
	}
	// A burst starts with probability p so that the duplicates' share of
	// all sends is Fraction: p*B / (p*B + 1 - p) = F.
	if f, b := g.cfg.Duplicates.Fraction, float64(g.cfg.Duplicates.Burst); f > 0 {
		g.burstP = f / (b*(1-f) + f)
	}
	if n := cfg.Disorder.Clients; n > 1 && cfg.Disorder.ClockSkew > 0 {
		for i := 0; i < n; i++ {
			// Spread skews evenly over [-ClockSkew, +ClockSkew].
			g.skews = append(g.skews, int64(cfg.Disorder.ClockSkew/time.Millisecond)*int64(2*i-(n-1))/int64(n-1))
		}
	}
	return g, nil
}

// Stats is what the generator made so far.
func (g *Generator) Stats() Stats { return g.stats }

// ID is the event id of sequence number seq.
func (g *Generator) ID(seq uint64) string {
	var buf [64]byte // one allocation, the string's, where prefix + digits fit
	return string(strconv.AppendUint(append(buf[:0], g.cfg.IDPrefix...), seq, 10))
}

// keyName is the name of key index k: KeyPrefix and k in decimal.
func (g *Generator) keyName(k uint64) string {
	if k >= maxCachedKeys {
		return g.cfg.KeyPrefix + strconv.FormatUint(k, 10)
	}
	if k >= uint64(len(g.names)) {
		g.names = append(g.names, make([]string, min(max(int(k)+1, 2*len(g.names)), maxCachedKeys)-len(g.names))...)
	}
	if g.names[k] == "" {
		g.names[k] = g.cfg.KeyPrefix + strconv.FormatUint(k, 10)
	}
	return g.names[k]
}

// Route is route r (Item.Route) of the generator's Config.
func (g *Generator) Route(r uint8) Route { return g.cfg.Routes[r] }

// Format is the wire format of route r.
func (g *Generator) Format(r uint8) Format { return g.cfg.Routes[r].Format }

// route draws an item's route.
func (g *Generator) route() uint8 {
	if g.routeW == nil {
		return 0
	}
	u := g.r.Float64() * g.routeW[len(g.routeW)-1]
	i, _ := slices.BinarySearch(g.routeW, u)
	return uint8(min(i, len(g.routeW)-1))
}

// Next makes the item intended to be sent at at.
func (g *Generator) Next(at time.Duration) Item {
	var it Item
	g.next(&it, at)
	return it
}

// next writes the item intended to be sent at at into *it (every field:
// *it may hold a sent item of a recycled batch). The common item, a
// fresh event, is built in place: an Item is ~250 bytes, and copying it
// from return value to return value was a visible share of the sender.
func (g *Generator) next(it *Item, at time.Duration) {
	if len(g.pending) > 0 {
		*it = g.pending[0]
		g.pending = g.pending[1:]
		it.At = at
		if it.Hostile != "" {
			g.stats.Hostile++
		} else {
			g.stats.Duplicates++
		}
		return
	}
	u := g.r.Float64()
	if f := g.cfg.Malformed.Fraction; u < f {
		g.stats.Malformed++
		*it = g.malformed(at)
		it.Route = g.route()
		return
	} else if u < f+g.host.fraction {
		g.stats.Hostile++
		*it = g.hostile(at, g.route())
		return
	} else if u < f+g.host.fraction+g.burstP && len(g.recent) > 0 {
		*it = g.recent[g.r.IntN(len(g.recent))]
		it.At = at
		it.Kind = KindDuplicate
		it.Route = g.route()
		for i := 1; i < g.cfg.Duplicates.Burst; i++ {
			g.pending = append(g.pending, *it)
		}
		g.stats.Duplicates++
		return
	}
	g.fresh(it, at)
	it.Route = g.route()
	it.origin = at
	g.dupHor.update(g, at)
	// Items share nothing mutable: Dims is never written after fresh
	// makes it, so the recent list may hold the same slice.
	if len(g.recent) < g.cfg.Duplicates.Recent {
		g.recent = append(g.recent, *it)
	} else {
		g.recent[g.r.IntN(len(g.recent))] = *it
	}
}

// fresh writes a new distinct event into *it, with its disorder, faults
// and dimensions.
func (g *Generator) fresh(it *Item, at time.Duration) {
	g.stats.Fresh++
	g.fillEvent(it, at)
	e := &it.Event
	d := &g.cfg.Disorder
	switch u := g.r.Float64(); {
	case u < d.TooLate && at >= d.LateAfter:
		e.TS -= d.LateBy.Milliseconds()
		it.Late = true
		g.stats.Late++
	case u < d.TooLate+d.OutOfOrder && d.MaxDelay > 0:
		e.TS -= 1 + g.r.Int64N(d.MaxDelay.Milliseconds())
		g.stats.OutOfOrder++
	}
	if len(g.skews) > 0 {
		e.TS += g.skews[g.r.IntN(len(g.skews))]
	}
	g.applyFaults(it, at)
	g.addDims(e)
}

// newEvent is a new distinct event of the next seq, on time, without
// dimensions.
func (g *Generator) newEvent(at time.Duration) Item {
	var it Item
	g.fillEvent(&it, at)
	return it
}

// fillEvent writes newEvent's item into *it (every field).
func (g *Generator) fillEvent(it *Item, at time.Duration) {
	seq := g.seq
	g.seq++
	*it = Item{At: at, Seq: seq, Kind: KindFresh}
	e := &it.Event
	e.ID = g.ID(seq)
	e.Key = g.keyName(g.cfg.Keys.Next(g.r, at))
	t := g.pickType()
	e.Type = t.Name
	e.Value = t.Values.Next(g.r)
	e.TS = g.start + at.Milliseconds()
}

func (g *Generator) addDims(e *event.Event) {
	if len(g.dims) > 0 {
		e.Dims = make([]event.Dim, len(g.dims))
		for i := range g.dims {
			e.Dims[i] = event.Dim{Name: g.dims[i].name, Value: g.dims[i].next(g.r)}
		}
	}
}

func (g *Generator) pickType() *TypeSpec {
	if len(g.cumW) == 1 {
		return &g.cfg.Types[0]
	}
	u := g.r.Float64() * g.cumW[len(g.cumW)-1]
	i, _ := slices.BinarySearch(g.cumW, u)
	return &g.cfg.Types[min(i, len(g.cumW)-1)]
}

// Tracer makes a tracer event intended to be sent at at: on time, of the
// first type, value 1.
func (g *Generator) Tracer(at time.Duration) Item {
	seq := g.seq
	g.seq++
	g.stats.Fresh++
	g.tracers++
	return Item{At: at, Seq: seq, Kind: KindFresh, Tracer: true, Event: event.Event{
		ID: g.ID(seq), Key: g.cfg.KeyPrefix + "tracer-" + strconv.Itoa(g.tracers), Type: g.cfg.Types[0].Name, Value: 1,
		TS: g.start + at.Milliseconds()}}
}

// malformed makes an invalid event of the next kind; its id is unique
// ("<prefix>bad-N") so a rejected event never shadows a real one.
func (g *Generator) malformed(at time.Duration) Item {
	kind := g.cfg.Malformed.Kinds[g.malN%len(g.cfg.Malformed.Kinds)]
	g.malN++
	id := g.cfg.IDPrefix + "bad-" + strconv.Itoa(g.malN)
	ts := g.start + at.Milliseconds()
	it := Item{At: at, Kind: KindMalformed, Event: event.Event{ID: id, Key: g.cfg.KeyPrefix + "0", Type: g.cfg.Types[0].Name, Value: 1, TS: ts}}
	e := &it.Event
	switch kind {
	case "type":
		e.Type = "NOT_A_TYPE"
	case "key":
		e.Key = ""
	case "ts":
		e.TS = 0
	case "dims":
		e.Dims = []event.Dim{{Name: "country", Value: "a,b=c"}}
	case "value_text":
		e.Type = "NOT_A_TYPE" // the protobuf form
		it.Raw = fmt.Appendf(nil, `{"id":%q,"key":%q,"type":%q,"ts":%d,"value":"many"}`, id, e.Key, g.cfg.Types[0].Name, ts)
	case "ts_text":
		e.TS = 0
		it.Raw = fmt.Appendf(nil, `{"id":%q,"key":%q,"type":%q,"ts":"yesterday"}`, id, e.Key, g.cfg.Types[0].Name)
	case "unknown_field":
		e.Key = ""
		it.Raw = fmt.Appendf(nil, `{"id":%q,"key":%q,"type":%q,"ts":%d,"colour":"red"}`, id, g.cfg.KeyPrefix+"0", g.cfg.Types[0].Name, ts)
	default:
		e.Type = "NOT_A_TYPE"
	}
	return it
}
