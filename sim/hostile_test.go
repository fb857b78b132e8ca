package sim

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/sim/oracle"
)

// hostileConfig is testConfig with every hostile kind on the given
// routes.
func hostileConfig(fraction float64, routes ...Route) Config {
	c := testConfig()
	c.Malformed.Fraction, c.Duplicates.Fraction = 0, 0
	c.Hostile = Hostile{Fraction: fraction}
	c.Routes = routes
	return c
}

// wire is the bytes an item goes on the wire as, in format f.
func wire(it *Item, f Format) []byte {
	switch {
	case f == Protobuf && it.RawProto != nil:
		return it.RawProto
	case f == Protobuf:
		return event.AppendProto(nil, &it.Event)
	case it.Raw != nil:
		return it.Raw
	}
	return event.AppendJSON(nil, &it.Event)
}

// TestHostileAccepted: every hostile item designed to be accepted
// decodes, from the bytes it is sent as, to its Event, which is valid
// and on time; a designed-refused one never decodes to a valid event
// within the contract's time bounds unless its kind needs the contract's
// newer checks (utf8 escapes, members, time bounds relative to now).
func TestHostileAccepted(t *testing.T) {
	v, _ := event.NewValidator()
	for _, f := range []Format{JSON, Protobuf} {
		g, err := NewGenerator(hostileConfig(1, Route{Weight: 1, Format: f}))
		if err != nil {
			t.Fatal(err)
		}
		start := g.start
		seen := map[string]int{}
		for i := 0; i < 3000; i++ {
			at := time.Duration(i) * time.Millisecond
			it := g.Next(at)
			if it.Hostile == "" {
				t.Fatalf("item %d is not hostile with fraction 1: %+v", i, it)
			}
			seen[it.Hostile]++
			var e event.Event
			_, derr := event.Decode(wire(&it, f), &e)
			if derr == nil {
				derr = v.Validate(&e)
			}
			if it.Kind == KindMalformed {
				continue
			}
			if derr != nil {
				t.Fatalf("%v %s item %d (%q): refused: %v", f, it.Hostile, i, wire(&it, f), derr)
			}
			if e.ID != it.Event.ID || e.Key != it.Event.Key || e.Type != it.Event.Type || e.Value != it.Event.Value || e.TS != it.Event.TS || e.DimSet() != it.Event.DimSet() {
				t.Fatalf("%v %s item %d: decodes to %+v, want %+v", f, it.Hostile, i, e, it.Event)
			}
			if d := e.TS - (start + at.Milliseconds()); d < -5000 || d > 0 {
				t.Fatalf("%v %s item %d: ts %d off its send time by %d ms", f, it.Hostile, i, e.TS, d)
			}
		}
		for _, k := range HostileKinds {
			if seen[k] < 100 {
				t.Errorf("%v: kind %s made %d times of 3000", f, k, seen[k])
			}
		}
	}
}

// TestHostileDeterministic: the same seed makes the same hostile items,
// bytes and routes included; the shares follow the weights.
func TestHostileDeterministic(t *testing.T) {
	cfg := hostileConfig(0.3, Route{Weight: 1, Format: JSON}, Route{Weight: 3, Format: Protobuf})
	cfg.Hostile.Kinds = []HostileShare{{Kind: "key_special", Weight: 3}, {Kind: "value_invalid", Weight: 1}, {Kind: "same_id_variant", Weight: 1}}
	a, b := genItems(t, cfg, 20000, time.Millisecond), genItems(t, cfg, 20000, time.Millisecond)
	kinds := map[string]int{}
	routes := [2]int{}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.Event.ID != y.Event.ID || x.Event.Key != y.Event.Key || x.Hostile != y.Hostile || x.Route != y.Route ||
			string(x.Raw) != string(y.Raw) || string(x.RawProto) != string(y.RawProto) || math.Float64bits(x.Event.Value) != math.Float64bits(y.Event.Value) {
			t.Fatalf("item %d differs: %+v vs %+v", i, x, y)
		}
		routes[x.Route]++
		if x.Hostile != "" {
			kinds[x.Hostile]++
		}
		if x.Hostile == "same_id_variant" && x.withNext {
			n := &a[i+1]
			if n.Kind != KindDuplicate || n.Event.ID != x.Event.ID || n.Event.Key != x.Event.Key || n.Route != x.Route || n.Seq != x.Seq {
				t.Fatalf("item %d: a same-id pair's second is %+v, first %+v", i, n, x)
			}
		}
	}
	if r := float64(routes[1]) / float64(len(a)); r < 0.72 || r > 0.78 {
		t.Errorf("route 1 share %.3f, want 0.75", r)
	}
	pairs := kinds["same_id_variant"] / 2
	total := kinds["key_special"] + kinds["value_invalid"] + pairs
	if f := float64(total) / float64(len(a)-pairs); f < 0.28 || f > 0.32 {
		t.Errorf("hostile share %.3f, want 0.3", f)
	}
	if r := float64(kinds["key_special"]) / float64(kinds["value_invalid"]); r < 2.7 || r > 3.3 {
		t.Errorf("key_special/value_invalid %.2f, want 3", r)
	}
}

// TestHostileOff: without hostile traffic the stream is the one of a
// generator that knows nothing of it.
func TestHostileOff(t *testing.T) {
	g1, _ := NewGenerator(testConfig())
	c := testConfig()
	c.Routes = []Route{{Weight: 1, Format: Protobuf}}
	g2, _ := NewGenerator(c)
	for i := 0; i < 5000; i++ {
		at := time.Duration(i) * time.Millisecond
		x, y := g1.Next(at), g2.Next(at)
		if x.Event.ID != y.Event.ID || x.Event.TS != y.Event.TS || x.Event.Key != y.Event.Key || x.Hostile != "" || y.Hostile != "" {
			t.Fatalf("item %d differs: %+v vs %+v", i, x, y)
		}
	}
}

// truthLog records what a sender tells its truth.
type truthLog struct {
	ch chan oracle.Sent
}

func (l *truthLog) Sent(s oracle.Sent) { l.ch <- s }

// batchTruthLog is a truthLog told of a batch at once (BatchTruth).
type batchTruthLog struct {
	*truthLog
	calls int
}

func (l *batchTruthLog) SentAll(ss []oracle.Sent) {
	l.calls++
	for _, s := range ss {
		if s.Event != nil { // the sender's, reused once SentAll returns
			e := *s.Event
			s.Event = &e
		}
		l.ch <- s
	}
}

// TestSenderTruth: the truth hears of every item on every attempt, in
// batch order, with same-id pairs never split across batches; a
// BatchTruth hears the same, a batch at a time.
func TestSenderTruth(t *testing.T) {
	t.Run("items", func(t *testing.T) { testSenderTruth(t, false) })
	t.Run("batches", func(t *testing.T) { testSenderTruth(t, true) })
}

func testSenderTruth(t *testing.T, batched bool) {
	g, err := NewGenerator(hostileConfig(0.5, Route{Weight: 1, Format: JSON}, Route{Weight: 1, Format: Protobuf}))
	if err != nil {
		t.Fatal(err)
	}
	tr := &fakeTransport{failN: 5, acked: map[string]int{}}
	log := &truthLog{ch: make(chan oracle.Sent, 1<<16)}
	var truth Truth = log
	blog := &batchTruthLog{truthLog: log}
	if batched {
		truth = blog
	}
	var batches [][]Item
	rec := transportFunc(func(ctx context.Context, items []Item, out []Outcome) error {
		batches = append(batches, slices.Clone(items))
		return tr.Send(ctx, items, out)
	})
	s, err := NewSender(SenderConfig{Generator: g, Schedule: NewSchedule(Constant(2000), false, 1), Duration: 250 * time.Millisecond,
		Transport: rec, Connections: 1, BatchMax: 7, Truth: truth})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(log.ch)
	if batched && blog.calls != len(batches) {
		t.Fatalf("SentAll called %d times for %d batches sent", blog.calls, len(batches))
	}
	var sent []oracle.Sent
	for x := range log.ch {
		sent = append(sent, x)
	}
	n := 0
	for _, b := range batches {
		n += len(b)
		if last := b[len(b)-1]; last.withNext {
			t.Fatalf("a batch ends with the first of a same-id pair: %+v", last)
		}
		if len(b) > 7 {
			t.Fatalf("batch of %d, max 7", len(b))
		}
	}
	if len(sent) != n || n <= int(s.Progress().Generated) {
		t.Fatalf("truth told %d times, %d items sent in %d batches (%d generated, with re-sends)", len(sent), n, len(batches), s.Progress().Generated)
	}
	i := 0
	for _, b := range batches {
		for j := range b {
			it, x := &b[j], sent[i]
			i++
			f := g.Format(it.Route)
			switch {
			case x.Ref == 0:
				t.Fatalf("no ref: %+v", x)
			case x.Event == nil && x.Raw == nil:
				t.Fatalf("neither event nor raw: %+v", x)
			case x.Event != nil && (x.Event.ID != it.Event.ID || x.Event.Key != it.Event.Key):
				t.Fatalf("event %+v for item %+v", x.Event, it.Event)
			case x.Raw != nil && string(x.Raw) != string(wire(it, f)):
				t.Fatalf("raw %q for item sent as %q", x.Raw, wire(it, f))
			case x.Raw != nil && x.Proto != (f == Protobuf):
				t.Fatalf("proto %v for format %v", x.Proto, f)
			case x.Late != it.Late:
				t.Fatalf("late %v for %+v", x.Late, it)
			}
		}
	}
}

type transportFunc func(ctx context.Context, items []Item, out []Outcome) error

func (f transportFunc) Send(ctx context.Context, items []Item, out []Outcome) error {
	return f(ctx, items, out)
}

// TestOracleSent: an item is told to the truth as the format sends it.
func TestOracleSent(t *testing.T) {
	it := Item{Kind: KindFresh, Late: true, Event: event.Event{ID: "i", Key: "k", Type: "VIEW", Value: 1, TS: 1700000000000,
		Dims: []event.Dim{{Name: "c", Value: "US"}}}}
	j := OracleSent(&it, JSON, false, 7, Acked)
	if j.Event == nil || !j.Acked || !j.Late || j.Ref != 7 || j.Raw != nil || !j.Event.HasValue || j.Event.TSNumber ||
		len(j.Event.Dims) != 1 || j.Event.Dims[0] != (oracle.Dim{Name: "c", Value: "US"}) {
		t.Fatalf("json: %+v %+v", j, j.Event)
	}
	if p := OracleSent(&it, Protobuf, false, 7, Failed); p.Event == nil || !p.Proto || p.Acked || p.Event.HasValue || p.Event.Value != 1 || !p.Event.TSNumber {
		t.Fatalf("protobuf value 1 is absent on the wire: %+v %+v", p, p.Event)
	}
	it.Event.TS = -5
	if j := OracleSent(&it, JSON, false, 7, Acked); !j.Event.TSNumber {
		t.Fatalf("a ts before 1970 is a JSON number: %+v", j.Event)
	}
	it.Event.TS = 0 // absent in protobuf: the bytes tell
	if p := OracleSent(&it, Protobuf, false, 7, Acked); p.Event != nil || !p.Proto || string(p.Raw) != string(event.AppendProto(nil, &it.Event)) {
		t.Fatalf("protobuf with ts 0: %+v", p)
	}
	it.Kind, it.Raw, it.RawProto = KindMalformed, []byte(`{"x":1}`), []byte{8, 1}
	it.Code, it.Acked = "", true // produced straight to Kafka
	if j := OracleSent(&it, JSON, true, 7, Rejected); string(j.Raw) != `{"x":1}` || j.Proto || !j.Acked || j.Code != "" || !j.Direct {
		t.Fatalf("malformed json: %+v", j)
	}
	it.Code, it.Acked = "syntax", false
	if p := OracleSent(&it, Protobuf, false, 7, Rejected); string(p.Raw) != "\x08\x01" || !p.Proto || p.Acked || p.Code != "syntax" {
		t.Fatalf("malformed protobuf: %+v", p)
	}
}
