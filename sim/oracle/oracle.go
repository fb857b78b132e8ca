package oracle

import (
	"cmp"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"time"
)

// Oracle is the truth of a run. It is safe for concurrent use.
type Oracle struct {
	mu  sync.Mutex
	cfg cfg

	strs  []string
	strID map[string]uint32
	few   []interned // internFew's cache
	// recent: the per-key cache in front of windows (recent.go).
	recent    []recentWins
	recentGen uint32
	windows   map[wkey]*Total
	// times: with Config.EventTimes, each window's totals by event-time
	// millisecond (attr.go).
	times map[wkey]map[int64]Total

	// sim mode: the (key, id) fingerprints of the acked distinct events,
	// and AddAll's acknowledged events not yet looked up in it, a queue
	// per part (deferred.go).
	seen    *idSet
	queues  [][]deferredAck
	touched uint64 // what work's reads ahead read (kept, so they are not dropped)
	// with Config.IdentityGeneration: the older generations, oldest
	// first, and the span of refs of the current one (rolling.go).
	oldSeen         []idGen
	genFrom, genMax int64
	// taken: per size index, the start before which every on-time window
	// was taken (TakeFinal); nil before the first take.
	taken []int64
	// log mode
	parts   map[int32]*partition
	pending map[recordPos]pendingRecord // originals outside their canonical partition
	copied  map[recordPos]struct{}      // moved copies whose original is not seen yet

	stats      Stats
	mismatches []Mismatch
}

// fingerprint is a 128-bit hash of (key, id): the identity, compactly.
type fingerprint [2]uint64

// identity is FNV-128a over len(key) (8 bytes, little-endian), key and
// id, as hash/fnv computes it (TestIdentityIsFNV), without its hasher's
// allocation; the digest's two big-endian halves read little-endian.
func identity(key, id string) fingerprint {
	h0, h1 := uint64(offset128Higher), uint64(offset128Lower)
	n := uint64(len(key))
	for range 8 {
		h0, h1 = fnv128a(h0, h1, byte(n))
		n >>= 8
	}
	for i := 0; i < len(key); i++ {
		h0, h1 = fnv128a(h0, h1, key[i])
	}
	for i := 0; i < len(id); i++ {
		h0, h1 = fnv128a(h0, h1, id[i])
	}
	return fingerprint{bits.ReverseBytes64(h0), bits.ReverseBytes64(h1)}
}

// fnv128a is one FNV-1a step on the state (h0 high, h1 low): xor c in,
// multiply by the prime modulo 2^128.
func fnv128a(h0, h1 uint64, c byte) (uint64, uint64) {
	h1 ^= uint64(c)
	hi, lo := bits.Mul64(prime128Lower, h1)
	return hi + h1<<prime128Shift + prime128Lower*h0, lo
}

// The FNV-128 offset basis and prime (2^88 + 0x13b), as in hash/fnv.
const (
	offset128Lower  = 0x62b821756295c58d
	offset128Higher = 0x6c62272e07bb0142
	prime128Lower   = 0x13b
	prime128Shift   = 24
)

// wkey is one window of one series; strings interned.
type wkey struct {
	start          int64
	key, typ, dims uint32
	size           uint8
	late           bool
	// stale: a repeat seen after its first copy was forgotten (beyond
	// the dedup horizon), counted by the engine but not by a reconcile,
	// which knows every identity.
	stale bool
	// kept: put back by Restore after a take (rolling.go), never taken
	// again.
	kept bool
}

// leftOut reports whether k's events are not in the truth: on time
// (includeLate false) the late ones and the repeats of forgotten first
// copies; after a reconcile (includeLate) only those repeats, which a
// reconcile, knowing every identity, does not count.
func (k wkey) leftOut(includeLate bool) bool {
	return k.late && !includeLate || k.stale && (includeLate || k.late)
}

// Stats are the oracle's event counts.
type Stats struct {
	// Distinct is the distinct accepted events expected in their windows.
	Distinct int64 `json:"distinct"`
	// Late is the distinct accepted events too late for their windows
	// (counted only by a reconcile).
	Late int64 `json:"late"`
	// Duplicates is the accepted events whose (key, id) was already
	// counted.
	Duplicates int64 `json:"duplicates"`
	// Stale is the repeats of an identity seen after its first copy was
	// forgotten (t <= watermark - horizon; log mode), also in Distinct or
	// Late: the engine takes them as first copies (counted on time, or
	// sent to the late topic), a reconcile does not (its recount holds
	// every identity once).
	Stale int64 `json:"stale,omitempty"`
	// Refused is the events the contract refuses, by reason code.
	Refused map[string]int64 `json:"refused"`
	// Failed is the events sent but neither acknowledged nor refused.
	Failed int64 `json:"failed"`
	// Moved is the records found outside their canonical partition whose
	// moved copy was seen; Unmoved those without one (counted as if moved:
	// the engine should have moved them).
	Moved   int64 `json:"moved"`
	Unmoved int64 `json:"unmoved"`
	// Mismatches is the events on which the entry point disagreed with
	// the contract (see Mismatches).
	Mismatches int64 `json:"mismatches"`
	// Windows is the number of (size, type, key, dimension set, start)
	// totals, late ones included.
	Windows int `json:"windows"`
	// AfterTaken is the on-time distinct events acknowledged for a window
	// already taken by TakeFinal (counted in Distinct, in no window): the
	// take was premature, and the check cannot call the run exact.
	AfterTaken int64 `json:"after_taken,omitempty"`
	// Forgotten is the identities dropped by ForgetBefore.
	Forgotten int64 `json:"forgotten,omitempty"`
	// Identities is the acknowledged identities held (sim mode).
	Identities int `json:"identities,omitempty"`
}

// Mismatch kinds.
const (
	// MismatchAckedRefused: the entry point acknowledged an event the
	// contract refuses.
	MismatchAckedRefused = "acked_refused"
	// MismatchRefusedAccepted: it refused an event the contract accepts.
	MismatchRefusedAccepted = "refused_accepted"
	// MismatchWrongCode: both refuse it, with different codes.
	MismatchWrongCode = "wrong_code"
)

// Mismatch is one event on which the entry point disagreed with the
// contract.
type Mismatch struct {
	Kind string `json:"kind"`
	// Want is the contract's code ("" accepted), Got the entry point's
	// ("" acknowledged).
	Want string `json:"want"`
	Got  string `json:"got"`
	// Key and ID of the event (as decoded; cut to 64 bytes).
	Key string `json:"key"`
	ID  string `json:"id"`
}

// maxMismatches is how many mismatches are kept (all are counted).
const maxMismatches = 100

// New is an empty oracle; cfg's zero fields are the contract's defaults.
func New(c Config) (*Oracle, error) {
	r, err := c.resolve()
	if err != nil {
		return nil, err
	}
	o := &Oracle{cfg: r, strID: map[string]uint32{}, windows: map[wkey]*Total{}, seen: newIDSet(r.identities),
		parts: map[int32]*partition{}, pending: map[recordPos]pendingRecord{}, copied: map[recordPos]struct{}{},
		stats: Stats{Refused: map[string]int64{}}}
	if r.eventTimes {
		o.times = map[wkey]map[int64]Total{}
	}
	return o, nil
}

// Sizes are the window sizes, ascending.
func (o *Oracle) Sizes() []time.Duration {
	out := make([]time.Duration, len(o.cfg.sizes))
	for i, s := range o.cfg.sizes {
		out[i] = time.Duration(s) * time.Millisecond
	}
	return out
}

// Expect is the contract's verdict on s (at reference time s.Ref).
func (o *Oracle) Expect(s Sent) Verdict {
	var (
		p    partial
		code string
	)
	switch {
	case s.Event != nil:
		p, code = fromEvent(s.Event, s.Proto)
	case s.Proto:
		p, code = decodeProto(s.Raw)
	default:
		p, code = decodeJSON(s.Raw)
	}
	if code == "" {
		code = o.cfg.check(&p, s.Ref)
	}
	return Verdict{Code: code, Event: p.Event}
}

// ExpectRecord is the contract's verdict on a record value read by the
// engine at reference time ref (the record's timestamp).
func (o *Oracle) ExpectRecord(value []byte, ref int64) Verdict {
	p, code := decodeRecord(value)
	if code == "" {
		code = o.cfg.check(&p, ref)
	}
	return Verdict{Code: code, Event: p.Event}
}

// Add records one sent event and its outcome: an acked event the contract
// refuses (except a Direct one, which the engine dead-letters), a refused
// event it accepts and a wrong code are mismatches; an acked accepted event
// is counted unless its (key, id) was acked before (the first acked copy
// wins). Late events are kept apart.
func (o *Oracle) Add(s Sent) Verdict {
	v := o.Expect(s)
	o.lock()
	defer o.mu.Unlock()
	o.apply(&s, &v, false)
	return v
}

// AddAll is Add for each of ss, in order, holding the lock once for all
// of them (the verdicts are worked out before, outside it, as Add does):
// for a sender's whole batch, which would otherwise take the lock, and
// move the truth's state between the cores, once per event.
func (o *Oracle) AddAll(ss []Sent) {
	p := verdicts.Get().(*[]Verdict)
	vs := (*p)[:0]
	for i := range ss {
		vs = append(vs, o.Expect(ss[i]))
	}
	o.mu.Lock() // not lock: the queues are settled by the next reader
	queue := o.deferring()
	for i := range ss {
		o.apply(&ss[i], &vs[i], queue)
	}
	o.mu.Unlock()
	clear(vs)
	*p = vs[:0]
	verdicts.Put(p)
}

// verdicts are AddAll's buffers.
var verdicts = sync.Pool{New: func() any { return new([]Verdict) }}

// apply records s with its verdict v (o.mu held): Add's work; with
// queue, an acknowledged accepted event is queued (deferred.go).
func (o *Oracle) apply(s *Sent, v *Verdict, queue bool) {
	switch {
	case s.Acked && v.Code != "" && !s.Direct:
		o.mismatch(MismatchAckedRefused, *v, "")
	case !s.Acked && s.Code != "" && v.Code == "":
		o.mismatch(MismatchRefusedAccepted, *v, s.Code)
	case !s.Acked && s.Code != "" && s.Code != v.Code:
		o.mismatch(MismatchWrongCode, *v, s.Code)
	}
	switch {
	case v.Code != "":
		o.stats.Refused[v.Code]++
	case !s.Acked && s.Code == "":
		o.stats.Failed++
	case s.Acked && queue:
		o.deferAck(identity(v.Event.Key, v.Event.ID), &v.Event, s.Late)
	case s.Acked:
		if !o.seenInsert(identity(v.Event.Key, v.Event.ID), s.Ref) {
			o.stats.Duplicates++
			break
		}
		o.count(&v.Event, s.Late)
	}
}

func cut(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

func (o *Oracle) mismatch(kind string, v Verdict, got string) {
	o.stats.Mismatches++
	if len(o.mismatches) < maxMismatches {
		o.mismatches = append(o.mismatches, Mismatch{Kind: kind, Want: v.Code, Got: got, Key: cut(v.Event.Key), ID: cut(v.Event.ID)})
	}
}

// Mismatches are the first 100 contract mismatches, in the order seen.
func (o *Oracle) Mismatches() []Mismatch {
	o.lock()
	defer o.mu.Unlock()
	return slices.Clone(o.mismatches)
}

func (o *Oracle) intern(s string) uint32 {
	if id, ok := o.strID[s]; ok {
		return id
	}
	id := uint32(len(o.strs))
	o.strs = append(o.strs, s)
	o.strID[s] = id
	return id
}

// interned is a string and its intern id.
type interned struct {
	s  string
	id uint32
}

// internFew is intern for the strings of a small set (event types,
// dimension sets): it looks at the first few it was given before the map,
// which for a handful of short strings beats hashing.
func (o *Oracle) internFew(s string) uint32 {
	for _, e := range o.few {
		if e.s == s {
			return e.id
		}
	}
	id := o.intern(s)
	if len(o.few) < 8 {
		o.few = append(o.few, interned{s, id})
	}
	return id
}

// DimSet is the canonical dimension set of dims: "a=x,b=y", names sorted.
func DimSet(dims []Dim) string {
	if len(dims) == 0 {
		return ""
	}
	ds := slices.Clone(dims)
	slices.SortFunc(ds, func(a, b Dim) int { return strings.Compare(a.Name, b.Name) })
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Name + "=" + d.Value
	}
	return strings.Join(parts, ",")
}

// count adds an accepted distinct event to its windows (o.mu held).
func (o *Oracle) count(e *Event, late bool) { o.countKind(e, late, false) }

// countKind is count; a stale event (see wkey) is counted apart.
func (o *Oracle) countKind(e *Event, late, stale bool) {
	o.countSeries(o.series(e, late, stale), e.TS, eventValue(e))
}

// series is e's series, its strings interned (no window yet).
func (o *Oracle) series(e *Event, late, stale bool) wkey {
	return wkey{key: o.intern(e.Key), typ: o.internFew(e.Type), dims: o.internFew(DimSet(e.Dims)), late: late, stale: stale}
}

// eventValue is what e adds to a window's sum: its value, or 1.
func eventValue(e *Event) float64 {
	if !e.HasValue {
		return 1
	}
	return e.Value
}

// countSeries counts one distinct event of series k at event time ts
// with value v in each of its windows.
func (o *Oracle) countSeries(k wkey, ts int64, v float64) {
	if k.stale {
		o.stats.Stale++
	}
	if k.late {
		o.stats.Late++
	} else {
		o.stats.Distinct++
	}
	after := false
	for i, s := range o.cfg.sizes {
		k.size, k.start = uint8(i), windowStart(ts, s)
		if !k.late && !k.stale && o.takenSize(i, k.start) {
			after = true
			continue
		}
		t := o.window(k)
		t.Count++
		t.Sum += v
		if o.times != nil {
			byMS := o.times[k]
			if byMS == nil {
				byMS = map[int64]Total{}
				o.times[k] = byMS
			}
			mt := byMS[ts]
			mt.Count++
			mt.Sum += v
			byMS[ts] = mt
		}
	}
	if after {
		o.stats.AfterTaken++
	}
}

// Stats are the counts so far (in log mode, after taking unmoved
// originals as moved).
func (o *Oracle) Stats() Stats {
	o.lock()
	defer o.mu.Unlock()
	o.flush()
	st := o.stats
	st.Refused = make(map[string]int64, len(o.stats.Refused))
	for k, v := range o.stats.Refused {
		st.Refused[k] = v
	}
	st.Windows = len(o.windows)
	st.Identities = o.seenLen()
	return st
}

// Grouping says how Windows groups the totals.
type Grouping int

const (
	// ByDimSet keeps one total per dimension set, as InfluxDB stores them.
	ByDimSet Grouping = iota
	// ByKey sums over dimension sets, as a query without a filter answers.
	ByKey
)

// Window is one expected window total.
type Window struct {
	WindowKey
	Total
}

// End is the end of the window (unix ms).
func (w Window) End() int64 { return w.Start + w.Size }

// Windows are the expected totals, sorted by size, start, type, key and
// dimension set (DimSet "" with ByKey). includeLate adds the late events
// and leaves out the repeats of forgotten first copies (Stats.Stale): the
// truth after a reconcile.
func (o *Oracle) Windows(g Grouping, includeLate bool) []Window {
	o.lock()
	o.flush()
	type gk struct {
		start          int64
		key, typ, dims uint32
		size           uint8
	}
	m := make(map[gk]*Total, len(o.windows))
	for k, t := range o.windows {
		if k.leftOut(includeLate) {
			continue
		}
		g2 := gk{start: k.start, key: k.key, typ: k.typ, dims: k.dims, size: k.size}
		if g == ByKey {
			g2.dims = 0
		}
		addTotal(m, g2, *t)
	}
	out := make([]Window, 0, len(m))
	for k, t := range m {
		w := Window{WindowKey: WindowKey{Size: o.cfg.sizes[k.size], Start: k.start, Type: o.strs[k.typ], Key: o.strs[k.key]}, Total: *t}
		if g == ByDimSet {
			w.DimSet = o.strs[k.dims]
		}
		out = append(out, w)
	}
	o.mu.Unlock()
	slices.SortFunc(out, compareWindows)
	return out
}

// addTotal adds t to m[k] (created when missing).
func addTotal[K comparable](m map[K]*Total, k K, t Total) {
	a := m[k]
	if a == nil {
		a = &Total{}
		m[k] = a
	}
	a.Count += t.Count
	a.Sum += t.Sum
}

func compareWindows(a, b Window) int {
	return cmp.Or(cmp.Compare(a.Size, b.Size), cmp.Compare(a.Start, b.Start), cmp.Compare(a.Type, b.Type),
		cmp.Compare(a.Key, b.Key), cmp.Compare(a.DimSet, b.DimSet))
}

// Range is the time span of the expected windows, late ones included
// (zero times without any).
func (o *Oracle) Range() (from, to time.Time) {
	o.lock()
	defer o.mu.Unlock()
	o.flush()
	first := true
	var lo, hi int64
	for k := range o.windows {
		end := k.start + o.cfg.sizes[k.size]
		if first || k.start < lo {
			lo = k.start
		}
		if first || end > hi {
			hi = end
		}
		first = false
	}
	if first {
		return time.Time{}, time.Time{}
	}
	return time.UnixMilli(lo).UTC(), time.UnixMilli(hi).UTC()
}
