package oracle

import (
	"cmp"
	"errors"
	"slices"
	"sync"
)

// UnknownValue is the attribute value the contract gives an event whose
// entity has no version in effect at its time (none yet, or deleted), or
// whose version lacks the attribute: "(unknown)".
const UnknownValue = "(unknown)"

// Metadata is the truth of the entity versions (metadata records) a run's
// entry point acknowledged. It is safe for concurrent use.
//
// The contract (docs/enrichment.md; engine/enrich and engine/aggregate
// implement it, this is a second implementation): an event at time t is
// enriched with the attributes of its entity's version with the largest
// effective time <= t; a deletion is a version without attributes; two
// records of one entity and effective time are one version (the later
// replaces the earlier; the generator never sends two different ones).
type Metadata struct {
	mu sync.Mutex
	by map[string][]version
}

type version struct {
	ts    int64
	attrs map[string]string // nil: a deletion
}

// AddVersion records an acknowledged version of entity effective at ts
// (attrs nil or empty: a deletion).
func (m *Metadata) AddVersion(entity string, ts int64, attrs map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.by == nil {
		m.by = map[string][]version{}
	}
	vs := m.by[entity]
	var cp map[string]string
	if len(attrs) > 0 {
		cp = make(map[string]string, len(attrs))
		for k, v := range attrs {
			cp[k] = v
		}
	}
	i, found := slices.BinarySearchFunc(vs, ts, func(v version, t int64) int { return cmp.Compare(v.ts, t) })
	if found {
		vs[i].attrs = cp
		return
	}
	m.by[entity] = slices.Insert(vs, i, version{ts, cp})
}

// Delete records an acknowledged deletion of entity effective at ts.
func (m *Metadata) Delete(entity string, ts int64) { m.AddVersion(entity, ts, nil) }

// At is the value of attribute name of entity for an event at time ts:
// of the version with the largest effective time <= ts (binary search).
func (m *Metadata) At(entity, name string, ts int64) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.at(entity, name, ts)
}

func (m *Metadata) at(entity, name string, ts int64) string {
	vs := m.by[entity]
	i, _ := slices.BinarySearchFunc(vs, ts+1, func(v version, t int64) int { return cmp.Compare(v.ts, t) })
	// vs[:i] are the versions effective at or before ts.
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

// ErrNoEventTimes is AttrWindows' error for an oracle made without
// Config.EventTimes.
var ErrNoEventTimes = errors.New("oracle: attribute windows need the events' times (Config.EventTimes)")

// AttrWindows rolls the oracle's on-time events up by attribute name of
// their keys at each event's time, per window, sorted by size, start,
// type, value. includeLate is as in Windows: the late events added and
// the repeats of forgotten first copies left out, the truth after a
// reconcile (which rewrites the attribute totals too). The oracle must
// keep event times (Config.EventTimes).
func AttrWindows(o *Oracle, m *Metadata, name string, includeLate bool) ([]AttrWindow, error) {
	o.lock()
	if o.times == nil {
		o.mu.Unlock()
		return nil, ErrNoEventTimes
	}
	o.flush()
	m.mu.Lock()
	agg := map[AttrKey]*Total{}
	for k, byMS := range o.times {
		if k.leftOut(includeLate) {
			continue
		}
		for ts, et := range byMS {
			addTotal(agg, AttrKey{Attr: name, Value: m.at(o.strs[k.key], name, ts), Type: o.strs[k.typ], Size: o.cfg.sizes[k.size], Start: k.start}, et)
		}
	}
	m.mu.Unlock()
	o.mu.Unlock()
	out := make([]AttrWindow, 0, len(agg))
	for k, t := range agg {
		out = append(out, AttrWindow{k, *t})
	}
	slices.SortFunc(out, func(a, b AttrWindow) int {
		return cmp.Or(cmp.Compare(a.Size, b.Size), cmp.Compare(a.Start, b.Start), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Value, b.Value))
	})
	return out, nil
}

// AttrSplits counts the on-time key windows (over dimension sets) ending at
// or before end whose events have more than one value of attribute name:
// windows the per-event join splits (a video moved, was first known or was
// deleted in their middle).
func AttrSplits(o *Oracle, m *Metadata, name string, end int64) (int, error) {
	o.lock()
	defer o.mu.Unlock()
	if o.times == nil {
		return 0, ErrNoEventTimes
	}
	o.flush()
	m.mu.Lock()
	defer m.mu.Unlock()
	type kw struct {
		start    int64
		key, typ uint32
		size     uint8
	}
	first := map[kw]string{}
	split := map[kw]bool{}
	for k, byMS := range o.times {
		if k.late || k.stale || k.start+o.cfg.sizes[k.size] > end {
			continue
		}
		w := kw{k.start, k.key, k.typ, k.size}
		for ts := range byMS {
			v := m.at(o.strs[k.key], name, ts)
			if f, ok := first[w]; !ok {
				first[w] = v
			} else if f != v {
				split[w] = true
			}
		}
	}
	return len(split), nil
}
