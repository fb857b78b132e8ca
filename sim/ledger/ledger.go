// Package ledger was the ground truth of a run.
//
// Deprecated: retired; sim/oracle is the run's truth (it shares no code
// with the engine, which this package did: engine/event, engine/total).
// Only k6/countlab on main still imports it; delete the package once that
// is gone.
//
// It held the distinct events the
// gateway or the broker acknowledged, added up per (window size, event
// type, counted key, dimension set, window) exactly as the engine counts
// them (once per distinct id, in the tumbling window total.WindowStart of
// each size). The checker compares it with what the query service serves.
//
// Events generated to arrive later than the allowed lateness are kept
// apart: the engine does not count them until a reconcile, so they are
// expected only when the check includes late events.
//
// Strings (keys, types, dimension sets) are interned, and a window is a
// 32-byte map key, so a ledger of millions of windows stays compact.
package ledger

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/total"
)

// Ledger is safe for concurrent use.
type Ledger struct {
	mu      sync.Mutex
	sizes   []int64 // ms
	seen    map[uint64]struct{}
	strs    []string
	strID   map[string]uint32
	windows map[wkey]*Agg
	events  int64 // distinct on-time events
	late    int64 // distinct late events
	dups    int64 // acknowledged re-sends of an id already counted
}

// wkey identifies one window of one series.
type wkey struct {
	start int64
	key   uint32
	typ   uint32
	dims  uint32
	size  uint16
	late  bool
}

// Agg is one window's expected total.
type Agg struct {
	Count    int64
	Sum      float64
	Min, Max float64
}

func (a *Agg) add(v float64) {
	if a.Count == 0 {
		a.Min, a.Max = v, v
	} else {
		a.Min, a.Max = min(a.Min, v), max(a.Max, v)
	}
	a.Count++
	a.Sum += v
}

// Merge folds o into a.
func (a *Agg) Merge(o Agg) {
	if o.Count == 0 {
		return
	}
	if a.Count == 0 {
		a.Min, a.Max = o.Min, o.Max
	} else {
		a.Min, a.Max = min(a.Min, o.Min), max(a.Max, o.Max)
	}
	a.Count += o.Count
	a.Sum += o.Sum
}

// New is an empty ledger for the engine's window sizes (whole
// milliseconds).
func New(sizes ...time.Duration) *Ledger {
	l := &Ledger{seen: map[uint64]struct{}{}, strID: map[string]uint32{}, windows: map[wkey]*Agg{}}
	for _, s := range sizes {
		l.sizes = append(l.sizes, s.Milliseconds())
	}
	slices.Sort(l.sizes)
	l.sizes = slices.Compact(l.sizes)
	return l
}

// Sizes are the window sizes.
func (l *Ledger) Sizes() []time.Duration {
	out := make([]time.Duration, len(l.sizes))
	for i, s := range l.sizes {
		out[i] = time.Duration(s) * time.Millisecond
	}
	return out
}

func (l *Ledger) intern(s string) uint32 {
	if id, ok := l.strID[s]; ok {
		return id
	}
	id := uint32(len(l.strs))
	l.strs = append(l.strs, s)
	l.strID[s] = id
	return id
}

// Add records an acknowledged event; seq identifies its id (the same seq
// for every re-send of it). late marks an event expected to miss its
// window. Add reports whether the event was new.
func (l *Ledger) Add(seq uint64, e *event.Event, late bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[seq]; ok {
		l.dups++
		return false
	}
	l.seen[seq] = struct{}{}
	if late {
		l.late++
	} else {
		l.events++
	}
	k := wkey{key: l.intern(e.Key), typ: l.intern(e.Type), dims: l.intern(e.DimSet()), late: late}
	for i, s := range l.sizes {
		k.size = uint16(i)
		k.start = total.WindowStart(e.TS, s)
		a := l.windows[k]
		if a == nil {
			a = &Agg{}
			l.windows[k] = a
		}
		a.add(e.Value)
	}
	return true
}

// Stats are the ledger's event counts.
type Stats struct {
	// Events is the distinct acknowledged events expected in their windows.
	Events int64 `json:"events"`
	// Late is the distinct acknowledged events expected to miss them.
	Late int64 `json:"late"`
	// Duplicates is the acknowledged re-sends of an already counted id.
	Duplicates int64 `json:"duplicates"`
	// Windows is the number of (size, type, key, dimset, window) totals.
	Windows int `json:"windows"`
}

// Stats is what the ledger holds.
func (l *Ledger) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Events: l.events, Late: l.late, Duplicates: l.dups, Windows: len(l.windows)}
}

// Window is one expected window total of one series.
type Window struct {
	Size   time.Duration
	Type   string
	Key    string
	DimSet string // "" after Totals(ByKey)
	Start  time.Time
	Agg
}

// End is the end of the window.
func (w Window) End() time.Time { return w.Start.Add(w.Size) }

// Grouping says how Totals groups windows.
type Grouping int

const (
	// ByDimSet keeps one total per dimension set, as the engine stores them.
	ByDimSet Grouping = iota
	// ByKey sums over dimension sets, as a query without a filter answers.
	ByKey
)

// Totals returns the expected windows, sorted by size, start, type, key
// and dimension set. includeLate adds the late events to their windows
// (the truth after a reconcile).
func (l *Ledger) Totals(g Grouping, includeLate bool) []Window {
	l.mu.Lock()
	type gk struct {
		start          int64
		key, typ, dims uint32
		size           uint16
	}
	m := make(map[gk]*Agg, len(l.windows))
	for k, a := range l.windows {
		if k.late && !includeLate {
			continue
		}
		g2 := gk{start: k.start, key: k.key, typ: k.typ, dims: k.dims, size: k.size}
		if g == ByKey {
			g2.dims = 0
		}
		t := m[g2]
		if t == nil {
			t = &Agg{}
			m[g2] = t
		}
		t.Merge(*a)
	}
	out := make([]Window, 0, len(m))
	for k, a := range m {
		w := Window{Size: time.Duration(l.sizes[k.size]) * time.Millisecond, Type: l.strs[k.typ], Key: l.strs[k.key],
			Start: time.UnixMilli(k.start).UTC(), Agg: *a}
		if g == ByDimSet {
			w.DimSet = l.strs[k.dims]
		}
		out = append(out, w)
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b Window) int {
		return cmp.Or(cmp.Compare(a.Size, b.Size), a.Start.Compare(b.Start), cmp.Compare(a.Type, b.Type),
			cmp.Compare(a.Key, b.Key), cmp.Compare(a.DimSet, b.DimSet))
	})
	return out
}
