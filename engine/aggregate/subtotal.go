package aggregate

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
)

// The per-event temporal join (docs/enrichment.md) splits a key's window
// at the entity's version boundaries by event time. Those boundaries are
// known only when the window closes (a version may be stored after the
// events it covers), so an open window of an enriched run keeps its
// events' totals by event-time millisecond: subTotals. Events of one
// millisecond always share an attribution, so this is exact, and it is
// never more than one entry per event. Runs without enrichment keep none.
//
// Crash safety: each commit's changelog record (partition p, same
// transaction as the window totals) carries the sub-totals the batch
// added to each window, sealed (sorted by millisecond, one entry per
// millisecond); restore replays them in order into the windows it
// reopens. The in-memory state is built by exactly the same operations
// (done = done ⊕ sealed batch, per commit), so a restored window's
// sub-totals equal the ones it had, bit for bit.

// sub is the total of one window's events of one event-time millisecond.
type sub struct {
	ms     int64
	count  int64
	sum    float64
	lo, hi float64
}

func (s *sub) merge(o *sub) {
	if s.count == 0 {
		s.lo, s.hi = o.lo, o.hi
	} else {
		s.lo, s.hi = math.Min(s.lo, o.lo), math.Max(s.hi, o.hi)
	}
	s.count += o.count
	s.sum += o.sum
}

// subTotals are one open window's sub-totals.
type subTotals struct {
	done []sub // committed: sorted by ms, one per ms
	pend []sub // the uncommitted batch's: arrival order until sealed
}

// add counts value v at event time ts into the batch.
func (st *subTotals) add(ts int64, v float64) {
	if n := len(st.pend); n > 0 && st.pend[n-1].ms == ts {
		p := &st.pend[n-1]
		p.lo, p.hi = math.Min(p.lo, v), math.Max(p.hi, v)
		p.count++
		p.sum += v
		return
	}
	st.pend = append(st.pend, sub{ms: ts, count: 1, sum: v, lo: v, hi: v})
}

// seal sorts the batch's sub-totals by ms (stable: arrival order within
// a millisecond) and merges those of one millisecond.
func (st *subTotals) seal() {
	if len(st.pend) < 2 {
		return
	}
	slices.SortStableFunc(st.pend, func(a, b sub) int { return cmpInt(a.ms, b.ms) })
	out := st.pend[:1]
	for i := 1; i < len(st.pend); i++ {
		if last := &out[len(out)-1]; last.ms == st.pend[i].ms {
			last.merge(&st.pend[i])
		} else {
			out = append(out, st.pend[i])
		}
	}
	st.pend = out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// mergeSubs returns a ⊕ b (both sorted, one entry per ms) into dst[:0]:
// entries of one ms merged, a's first.
func mergeSubs(dst, a, b []sub) []sub {
	dst = dst[:0]
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i].ms < b[j].ms:
			dst = append(dst, a[i])
			i++
		case i == len(a) || b[j].ms < a[i].ms:
			dst = append(dst, b[j])
			j++
		default:
			s := a[i]
			s.merge(&b[j])
			dst = append(dst, s)
			i, j = i+1, j+1
		}
	}
	return dst
}

// foldSubs returns done ⊕ delta (both sorted, one entry per ms), the
// operation of a commit and of restore: in place when delta starts at or
// after done's last ms (events mostly come in time order), else merged
// into a new slice.
func foldSubs(done, delta []sub) []sub {
	if len(delta) == 0 {
		return done
	}
	n := len(done)
	switch {
	case n == 0 || delta[0].ms > done[n-1].ms:
		return append(done, delta...)
	case delta[0].ms == done[n-1].ms:
		done[n-1].merge(&delta[0])
		return append(done, delta[1:]...)
	}
	return mergeSubs(make([]sub, 0, n+len(delta)), done, delta)
}

// commit makes the sealed batch permanent.
func (st *subTotals) commit() {
	st.done = foldSubs(st.done, st.pend)
	st.pend = st.pend[:0]
}

// count is the events counted (committed and batch).
func (st *subTotals) count() int64 {
	var n int64
	for i := range st.done {
		n += st.done[i].count
	}
	for i := range st.pend {
		n += st.pend[i].count
	}
	return n
}

// subBytes is the memory of one sub.
const subBytes = 40

func (st *subTotals) bytes() int64 { return int64(cap(st.done)+cap(st.pend)) * subBytes }

// appendSubs appends the sealed batch sub-totals of p's dirty windows
// that stay open to a
// changelog value (after the dedup ids; an engine without enrichment
// writes nothing there, and readChangelog ignores it):
//
//	uvarint windows; per window: uvarint len + series name (type 0x00
//	key 0x00 dims), uvarint size, varint start, uvarint n, and n
//	sub-totals: uvarint ms - previous ms (the first: - start), uvarint
//	count, then the value (count 1: 8 bytes) or sum, min, max (3 x 8
//	bytes), IEEE 754 big endian.
func (p *partition) appendSubs(dst []byte) []byte {
	if !p.enrich {
		return dst
	}
	n := 0
	for _, w := range p.dirty {
		if w.subs != nil && len(w.subs.pend) > 0 && !w.closing {
			n++
		}
	}
	if n == 0 {
		return dst
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	for _, w := range p.dirty {
		if w.subs == nil || len(w.subs.pend) == 0 || w.closing {
			continue // a window closing in this commit is not restored
		}
		s := w.k.s
		dst = binary.AppendUvarint(dst, uint64(len(s.typ)+len(s.key)+len(s.dims)+2))
		dst = append(dst, s.typ...)
		dst = append(dst, 0)
		dst = append(dst, s.key...)
		dst = append(dst, 0)
		dst = append(dst, s.dims...)
		dst = binary.AppendUvarint(dst, uint64(w.k.size))
		dst = binary.AppendVarint(dst, w.k.start)
		dst = binary.AppendUvarint(dst, uint64(len(w.subs.pend)))
		prev := w.k.start
		for _, e := range w.subs.pend {
			dst = binary.AppendUvarint(dst, uint64(e.ms-prev))
			prev = e.ms
			dst = binary.AppendUvarint(dst, uint64(e.count))
			dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(e.sum))
			if e.count != 1 {
				dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(e.lo))
				dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(e.hi))
			}
		}
	}
	return dst
}

var errSubs = errors.New("aggregate: malformed sub-totals in a changelog record")

// subKey names one window in a changelog record's sub-totals.
type subKey struct {
	series      string // type 0x00 key 0x00 dims
	size, start int64
}

// readSubs decodes what appendSubs wrote, calling fn per window (subs is
// reused after fn returns).
func readSubs(b []byte, fn func(k subKey, subs []sub)) error {
	if len(b) == 0 {
		return nil
	}
	var err error
	nextU := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			err = errSubs
			return 0
		}
		b = b[n:]
		return v
	}
	f64 := func() float64 {
		if len(b) < 8 {
			err = errSubs
			return 0
		}
		v := math.Float64frombits(binary.BigEndian.Uint64(b))
		b = b[8:]
		return v
	}
	var buf []sub
	windows := nextU()
	for range windows {
		l := nextU()
		if err != nil || uint64(len(b)) < l {
			return errSubs
		}
		k := subKey{series: string(b[:l])}
		b = b[l:]
		k.size = int64(nextU())
		start, n := binary.Varint(b)
		if n <= 0 {
			return errSubs
		}
		b = b[n:]
		k.start = start
		cnt := nextU()
		if err != nil || cnt > uint64(len(b)) {
			return errSubs
		}
		buf = buf[:0]
		prev := start
		for range cnt {
			e := sub{ms: prev + int64(nextU())}
			prev = e.ms
			e.count = int64(nextU())
			e.sum = f64()
			e.lo, e.hi = e.sum, e.sum
			if e.count != 1 {
				e.lo, e.hi = f64(), f64()
			}
			if err != nil {
				return err
			}
			buf = append(buf, e)
		}
		fn(k, buf)
	}
	return err
}
