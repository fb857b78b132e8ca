package oracle

import (
	"slices"
	"time"
)

// Rolling: a long run's truth in bounded memory (sim mode).
//
// Two things grow with the traffic: the acknowledged identities (key, id)
// that dedup needs, and the window totals. Both are bounded by what can
// still change:
//
//   - An identity can only be repeated while the generator may still send
//     a copy of it. With Config.IdentityGeneration > 0 the identities are
//     kept in generations by the send time (Sent.Ref) of their first
//     acknowledged copy, and ForgetBefore drops the generations sent
//     wholly before a time the generator vouches for (sim: its duplicate
//     horizon): a later copy of a forgotten identity would be counted
//     again, so the caller must only forget what cannot be repeated.
//   - A window can only grow while events of its time can still be
//     acknowledged on time. TakeFinal removes the on-time windows that end
//     at or before a time the caller has proven final, for it to check
//     them against the read side; Restore puts back those it wants the
//     end-of-run check to see again (a mismatch). An on-time event that
//     is later acknowledged for a window already taken is not counted in
//     any window: it is counted in Stats.AfterTaken, and a check must then
//     not call the run exact (the take was premature).

// idGen is one generation of acknowledged identities: those whose first
// acknowledged copy was sent at or before maxRef.
type idGen struct {
	maxRef int64
	ids    *idSet
}

// seenHas says whether identity id was acknowledged (and not forgotten).
func (o *Oracle) seenHas(id fingerprint) bool {
	if o.seen.has(id) {
		return true
	}
	for i := range o.oldSeen {
		if o.oldSeen[i].ids.has(id) {
			return true
		}
	}
	return false
}

// seenInsert records identity id, first acknowledged in a copy sent at
// ref, unless it is held already, and says whether it was new. With
// Config.IdentityGeneration a new generation starts when the current one
// would span more than it.
func (o *Oracle) seenInsert(id fingerprint, ref int64) bool {
	for i := range o.oldSeen {
		if o.oldSeen[i].ids.has(id) {
			return false
		}
	}
	g := o.cfg.idGen
	if g > 0 && o.seen.len() > 0 && ref >= o.genFrom+g {
		if o.seen.has(id) {
			return false
		}
		o.oldSeen = append(o.oldSeen, idGen{maxRef: o.genMax, ids: o.seen})
		o.seen = newIDSet(0)
	}
	first := o.seen.len() == 0
	if !o.seen.add(id) {
		return false
	}
	if g > 0 {
		if first {
			o.genFrom, o.genMax = ref, ref
		}
		o.genMax = max(o.genMax, ref)
	}
	return true
}

// eachSeen calls fn for every identity held.
func (o *Oracle) eachSeen(fn func(fingerprint)) {
	for i := range o.oldSeen {
		o.oldSeen[i].ids.each(fn)
	}
	o.seen.each(fn)
}

// seenLen is the number of identities held.
func (o *Oracle) seenLen() int {
	n := o.seen.len()
	for i := range o.oldSeen {
		n += o.oldSeen[i].ids.len()
	}
	return n
}

// ForgetBefore drops the identities whose first acknowledged copy was
// sent before t, a whole generation at a time (those of a generation that
// straddles t are kept), and returns how many it dropped. It does
// nothing without Config.IdentityGeneration (the current generation is
// never dropped). The caller vouches that no copy of them will be sent
// again: one would be counted as a new event.
func (o *Oracle) ForgetBefore(t time.Time) int {
	ms := t.UnixMilli()
	o.lock()
	defer o.mu.Unlock()
	n := 0
	keep := o.oldSeen[:0]
	for _, g := range o.oldSeen {
		if g.maxRef < ms {
			n += g.ids.len()
			continue
		}
		keep = append(keep, g)
	}
	clear(o.oldSeen[len(keep):])
	o.oldSeen = keep
	o.stats.Forgotten += int64(n)
	return n
}

// Taken is, for one window size, the start before which every on-time
// window was taken (TakeFinal).
type Taken struct {
	// Size is the window size and Before the start, both in ms.
	Size, Before int64
}

// TakeFinal removes the on-time windows (Windows(ByDimSet, false)) that
// end at or before t and returns them, sorted like Windows, with, for
// each size, the start before which every window of that size has now
// been taken (never moving back). Late windows and, in log mode, the
// repeats of forgotten identities stay.
func (o *Oracle) TakeFinal(t time.Time) ([]Window, []Taken) {
	ms := t.UnixMilli()
	o.lock()
	if o.taken == nil {
		o.taken = make([]int64, len(o.cfg.sizes))
		for i := range o.taken {
			o.taken[i] = minStart
		}
	}
	bounds := make([]Taken, len(o.cfg.sizes))
	for i, s := range o.cfg.sizes {
		if b := windowStart(ms, s); b > o.taken[i] {
			o.taken[i] = b
		}
		bounds[i] = Taken{Size: s, Before: o.taken[i]}
	}
	var out []Window
	for k, t := range o.windows {
		if k.late || k.stale || k.kept || k.start >= o.taken[k.size] {
			continue
		}
		out = append(out, Window{WindowKey: WindowKey{Size: o.cfg.sizes[k.size], Start: k.start, Type: o.strs[k.typ], Key: o.strs[k.key],
			DimSet: o.strs[k.dims]}, Total: *t})
		delete(o.windows, k)
		delete(o.times, k)
	}
	if len(out) > 0 {
		o.forgetRecent()
	}
	o.mu.Unlock()
	slices.SortFunc(out, compareWindows)
	return out, bounds
}

// minStart is below every window start (no bound taken yet).
const minStart = -1 << 62

// Restore puts on-time windows (ByDimSet, as TakeFinal returned them)
// back, added to what the oracle holds, for a later check to see them
// (Windows); TakeFinal never takes them again.
func (o *Oracle) Restore(ws []Window) {
	o.lock()
	defer o.mu.Unlock()
	for _, w := range ws {
		i, ok := slices.BinarySearch(o.cfg.sizes, w.Size)
		if !ok {
			continue
		}
		k := wkey{start: w.Start, key: o.intern(w.Key), typ: o.intern(w.Type), dims: o.intern(w.DimSet), size: uint8(i), kept: true}
		t := o.windows[k]
		if t == nil {
			t = &Total{}
			o.windows[k] = t
		}
		t.Count += w.Count
		t.Sum += w.Sum
	}
}

// takenSize says whether on-time window start of size index i was taken
// (o.mu held).
func (o *Oracle) takenSize(i int, start int64) bool {
	return o.taken != nil && start < o.taken[i]
}
