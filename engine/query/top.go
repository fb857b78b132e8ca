package query

import (
	"container/heap"
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/countlab/countlab/engine/total"
)

// topResponse is the answer of /v1/top.
type topResponse struct {
	Type    string     `json:"type"`
	Window  string     `json:"window"`
	Filter  string     `json:"filter,omitempty"`
	From    msTime     `json:"from"`
	To      msTime     `json:"to"`
	N       int        `json:"n"`
	Items   []keyCount `json:"items"`
	Exact   bool       `json:"exact"`
	Aligned bool       `json:"aligned"`
	Source  string     `json:"source"`
}

func (s *Server) handleTop(w http.ResponseWriter, r *http.Request) int {
	q, c, bp := s.parseQuery(r.URL.RawQuery, pCommon|pN)
	if bp != nil {
		return s.writeFailure(w, bp)
	}
	if c.auto {
		return s.writeFailure(w, bad("window", "window=auto is for /v1/counts and /v1/stats; give a window size for /v1/top"))
	}
	n := DefaultTopN
	if v := q.n; v != "" {
		var err error
		n, err = strconv.Atoi(v)
		if err != nil || n < 1 || n > s.cfg.maxTopN {
			return s.writeFailure(w, bad("n", "want an integer from 1 to "+strconv.Itoa(s.cfg.maxTopN)+", got "+strconv.Quote(v)))
		}
	}
	items, p, err := s.top(r.Context(), c, n)
	if err != nil {
		return s.writeFailure(w, err)
	}
	if items == nil {
		items = []keyCount{}
	}
	out := topResponse{
		Type: c.typ, Window: s.sizeName(c.span.size), Filter: c.filter.String(),
		From: msTime(c.span.wFrom), To: msTime(c.span.wTo), N: n, Items: items,
		Exact: true, Aligned: c.span.aligned(), Source: p.source(),
	}
	buf := bytesPool.Get().(*[]byte)
	defer bytesPool.Put(buf)
	*buf = out.appendJSON((*buf)[:0])
	return writeBody(w, http.StatusOK, *buf)
}

// appendJSON appends r as JSON, as encoding/json would write it (Items
// nil is written as null, as encoding/json does).
func (r *topResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, r.Type)
	b = appendRange(b, r.Window, r.Filter, r.From, r.To)
	b = append(b, `,"n":`...)
	b = strconv.AppendInt(b, int64(r.N), 10)
	b = append(b, `,"items":`...)
	if r.Items == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, kc := range r.Items {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"key":`...)
			b = appendString(b, kc.Key)
			b = append(b, `,"count":`...)
			b = strconv.AppendInt(b, kc.Count, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"exact":`...)
	b = strconv.AppendBool(b, r.Exact)
	b = append(b, `,"aligned":`...)
	b = strconv.AppendBool(b, r.Aligned)
	b = append(b, `,"source":`...)
	b = appendString(b, r.Source)
	return append(b, "}\n"...)
}

// topEntry is a cached in-memory top-N, valid while its range's stamp holds.
type topEntry struct {
	st    stamp
	items []keyCount
}

// top is the exact top n keys over the span: from memory (cached while the
// range does not change), from InfluxDB (sorted and limited by Flux), or
// both merged (every key's InfluxDB count, then the top of the sum).
func (s *Server) top(ctx context.Context, c common, n int) ([]keyCount, plan, error) {
	p, err := s.plan(c.span)
	if err != nil {
		return nil, p, err
	}
	size := c.span.size
	var items []keyCount
	switch {
	case !p.hasOld():
		items = s.memTop(c, p.split, n)
	case !p.hasMem():
		items, err = s.influx.keyCounts(ctx, size, c.typ, p.from, p.split, c.filter, n, p.closed)
	default:
		var old []keyCount
		old, err = s.influx.keyCounts(ctx, size, c.typ, p.from, p.split, c.filter, 0, p.closed)
		if err == nil {
			counts := make(map[string]int64, len(old))
			s.st.counts(size, c.typ, p.split, c.span.wTo, c.filter, counts)
			for _, kc := range old {
				counts[kc.Key] += kc.Count
			}
			items = topN(counts, n)
		}
	}
	if err != nil {
		return nil, p, ctxErr(ctx, err)
	}
	s.m.answer(p.source())
	return items, p, nil
}

// memTop is the exact top n over the in-memory windows [from, wTo). An
// answer is cached while its range does not change. On a miss the range is
// split at the hot windows (the current one and the one before, which the
// aggregator still updates): the rest is merged once into a sorted list,
// cached while it does not change, and the hot windows are merged on top:
// a key not in a hot window keeps its stable count, so the answer is the
// top n of the hot keys' sums and the first n stable keys not among them.
//
// Concurrent misses of one answer are merged: a request arriving while
// another computes the answer for the stamp it sees itself waits for that
// answer instead of computing it again (the answer reads the data after
// that stamp, so it holds every change the request could have seen).
func (s *Server) memTop(c common, from int64, n int) []keyCount {
	size, to := c.span.size, c.span.wTo
	ck := topKey{size: size, typ: c.typ, from: from, to: to, n: n}
	if len(c.filter) > 0 {
		ck.filter = c.filter.String()
	}
	cur := s.st.stampOf(size, c.typ, from, to)
	if e, ok := s.topCache.get(ck); ok && e.st == cur {
		s.m.topHits.Inc()
		return e.items
	}
	s.flightMu.Lock()
	if f := s.flights[ck]; f != nil && f.st == cur {
		s.flightMu.Unlock()
		<-f.done
		s.m.topHits.Inc()
		return f.items
	}
	f := &flight{st: cur, done: make(chan struct{})}
	s.flights[ck] = f
	s.flightMu.Unlock()
	s.m.topMisses.Inc()

	f.items = s.memTopCompute(c, from, n, ck)
	s.flightMu.Lock()
	if s.flights[ck] == f {
		delete(s.flights, ck)
	}
	s.flightMu.Unlock()
	close(f.done)
	return f.items
}

// topKey names a cached in-memory top-N answer.
type topKey struct {
	size     int64
	typ      string
	from, to int64
	n        int
	filter   string // canonical (filter.String)
}

// flight is one computation of a top-N answer others may wait for.
type flight struct {
	st    stamp // of the range, read before the computation
	done  chan struct{}
	items []keyCount
}

func (s *Server) memTopCompute(c common, from int64, n int, ck topKey) []keyCount {
	size, to := c.span.size, c.span.wTo
	if len(c.filter) == 0 {
		return s.incTop(c.typ, size, from, to, n, ck)
	}
	hot := total.WindowStart(s.cfg.now().UnixMilli(), size) - size
	cut := min(max(hot, from), to)
	var stable stableEntry
	if cut > from {
		stable = s.stableCounts(c, from, cut)
	}
	st := stable.st
	var hotCounts map[string]int64
	if cut < to {
		hotCounts = make(map[string]int64, min(len(stable.index), 1<<16))
		hs := s.st.counts(size, c.typ, cut, to, c.filter, hotCounts)
		st.version = max(st.version, hs.version)
		st.windows += hs.windows
	}
	h := make(minHeap, 0, n)
	for k, hc := range hotCounts {
		h.offer(keyCount{k, hc + stable.index[k]}, n)
	}
	added := 0
	for _, kc := range stable.sorted {
		if added == n {
			break
		}
		if _, ok := hotCounts[kc.Key]; !ok {
			h.offer(kc, n)
			added++
		}
	}
	items := h.sorted()
	s.topCache.put(ck, topEntry{st, items})
	return items
}

// incEntry is every key's unfiltered count over a range of windows as of
// one version, and the top n then: replaying the store's change log onto
// it brings it up to date in the time of the changes, not of the keys.
type incEntry struct {
	mu     sync.Mutex
	gen    uint64
	st     stamp
	counts map[string]int64
	items  []keyCount
}

// incTop is the exact unfiltered top n over [from, to), kept up to date
// incrementally. When no count went down, a key that did not change and
// was not in the last top n still has n keys ahead of it, so the new top
// n is among the last top n and the changed keys.
func (s *Server) incTop(typ string, size, from, to int64, n int, ck topKey) []keyCount {
	e, ok := s.incCache.get(ck)
	if !ok {
		e = &incEntry{}
		s.incCache.put(ck, e)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.counts != nil {
		changed := make(map[string]struct{})
		down := false
		gen, st, ok := s.st.changesSince(e.gen, size, typ, from, to, func(key string, delta int64) {
			e.counts[key] += delta
			changed[key] = struct{}{}
			down = down || delta < 0
		})
		switch {
		case ok && st.windows == e.st.windows:
			h := make(minHeap, 0, n)
			if down {
				for k, c := range e.counts {
					h.offer(keyCount{k, c}, n)
				}
			} else {
				for _, kc := range e.items {
					if _, dup := changed[kc.Key]; !dup {
						h.offer(keyCount{kc.Key, e.counts[kc.Key]}, n)
					}
				}
				for k := range changed {
					h.offer(keyCount{k, e.counts[k]}, n)
				}
			}
			e.gen, e.st, e.items = gen, st, h.sorted()
			s.m.incUpdates.Inc()
			s.topCache.put(ck, topEntry{st, e.items})
			return e.items
		case !ok:
			s.m.incResets.Inc()
		}
	}
	counts := make(map[string]int64, len(e.counts))
	gen, st := s.st.snapshot(size, typ, from, to, counts)
	e.gen, e.st, e.counts, e.items = gen, st, counts, topN(counts, n)
	s.m.incFull.Inc()
	s.topCache.put(ck, topEntry{st, e.items})
	return e.items
}

// stableEntry is every key's count over a range of windows, sorted.
type stableEntry struct {
	st     stamp
	sorted []keyCount
	index  map[string]int64
}

func (s *Server) stableCounts(c common, from, to int64) stableEntry {
	size := c.span.size
	ck := strconv.FormatInt(size, 10) + "|" + c.typ + "|" + strconv.FormatInt(from, 10) + "|" +
		strconv.FormatInt(to, 10) + "|" + c.filter.String()
	if e, ok := s.stableCache.get(ck); ok && e.st == s.st.stampOf(size, c.typ, from, to) {
		s.m.stableHits.Inc()
		return e
	}
	s.m.stableMisses.Inc()
	index := make(map[string]int64)
	st := s.st.counts(size, c.typ, from, to, c.filter, index)
	sorted := make([]keyCount, 0, len(index))
	for k, n := range index {
		sorted = append(sorted, keyCount{k, n})
	}
	slices.SortFunc(sorted, func(a, b keyCount) int {
		if before(a, b) {
			return -1
		}
		if before(b, a) {
			return 1
		}
		return 0
	})
	e := stableEntry{st, sorted, index}
	s.stableCache.put(ck, e)
	return e
}

// before orders key counts: larger count first, then key ascending.
func before(a, b keyCount) bool {
	if a.Count != b.Count {
		return a.Count > b.Count
	}
	return a.Key < b.Key
}

// topN is the n first of counts' nonzero entries in the order of before.
func topN(counts map[string]int64, n int) []keyCount {
	h := make(minHeap, 0, min(n, len(counts)))
	for k, c := range counts {
		h.offer(keyCount{k, c}, n)
	}
	return h.sorted()
}

// offer adds kc to h, a heap of at most n of the best nonzero counts.
func (h *minHeap) offer(kc keyCount, n int) {
	switch {
	case kc.Count == 0:
	case len(*h) < n:
		heap.Push(h, kc)
	case before(kc, (*h)[0]):
		(*h)[0] = kc
		heap.Fix(h, 0)
	}
}

// sorted empties h into a slice in the order of before.
func (h *minHeap) sorted() []keyCount {
	out := make([]keyCount, len(*h))
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(keyCount)
	}
	return out
}

// minHeap keeps the worst of the best n at the root.
type minHeap []keyCount

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return before(h[j], h[i]) }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(keyCount)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
