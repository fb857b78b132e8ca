package oracle

import (
	"cmp"
	"slices"
	"sync"
)

// UnknownValue is the attribute value the contract gives a key without a
// version in effect at a window's end (or whose version lacks the
// attribute): "(unknown)".
const UnknownValue = "(unknown)"

// Metadata is the truth of the entity versions (metadata records) a run's
// entry point acknowledged. It is safe for concurrent use.
//
// The contract (engine/enrich, implemented here a second time): a key's
// window [start, end) is enriched with the attributes of the entity's
// version with the largest effective time before end; two records of one
// entity and effective time are one version (the generator never sends
// two different ones).
type Metadata struct {
	mu sync.Mutex
	by map[string][]version
}

type version struct {
	ts    int64
	attrs map[string]string
}

// AddVersion records an acknowledged version of entity effective at ts.
func (m *Metadata) AddVersion(entity string, ts int64, attrs map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.by == nil {
		m.by = map[string][]version{}
	}
	vs := m.by[entity]
	cp := make(map[string]string, len(attrs))
	for k, v := range attrs {
		cp[k] = v
	}
	i, found := slices.BinarySearchFunc(vs, ts, func(v version, t int64) int { return cmp.Compare(v.ts, t) })
	if found {
		vs[i].attrs = cp
		return
	}
	m.by[entity] = slices.Insert(vs, i, version{ts, cp})
}

// At is the value of attribute name of entity for a window ending at end.
func (m *Metadata) At(entity, name string, end int64) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	vs := m.by[entity]
	i, _ := slices.BinarySearchFunc(vs, end, func(v version, t int64) int { return cmp.Compare(v.ts, t) })
	// vs[:i] are the versions effective before end.
	if i == 0 {
		return UnknownValue
	}
	if v, ok := vs[i-1].attrs[name]; ok {
		return v
	}
	return UnknownValue
}

// AttrKey is one attribute roll-up window.
type AttrKey struct {
	Attr, Value, Type string
	Size, Start       int64
}

// AttrWindow is one expected attribute roll-up total.
type AttrWindow struct {
	AttrKey
	Total
}

// AttrWindows rolls the oracle's on-time windows (late events are not in
// attribute totals: a reconcile does not rewrite those) up by attribute
// name of their keys, sorted by size, start, type, value.
func AttrWindows(o *Oracle, m *Metadata, name string) []AttrWindow {
	agg := map[AttrKey]*Total{}
	for _, w := range o.Windows(ByKey, false) {
		k := AttrKey{Attr: name, Value: m.At(w.Key, name, w.End()), Type: w.Type, Size: w.Size, Start: w.Start}
		t := agg[k]
		if t == nil {
			t = &Total{}
			agg[k] = t
		}
		t.Count += w.Count
		t.Sum += w.Sum
	}
	out := make([]AttrWindow, 0, len(agg))
	for k, t := range agg {
		out = append(out, AttrWindow{k, *t})
	}
	slices.SortFunc(out, func(a, b AttrWindow) int {
		return cmp.Or(cmp.Compare(a.Size, b.Size), cmp.Compare(a.Start, b.Start), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Value, b.Value))
	})
	return out
}
