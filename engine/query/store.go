package query

import (
	"sync"

	"github.com/countlab/countlab/engine/total"
)

// store is the in-memory materialization of the recent windows of the
// aggregates topic: the newest total of every series, indexed by
// (size, type, key) -> window -> cell for counts and by
// (size, type, window) -> key -> cell for top-N. A cell is one key's window:
// the newest total of each (dims, sub) series and their sum.
type store struct {
	mu     sync.RWMutex
	tables map[tableID]*table
	gen    uint64 // version stamp source, bumped by every change
	cells  int    // number of cells (metrics)
}

type tableID struct {
	size int64
	typ  string
}

type table struct {
	wins map[int64]*window          // window start -> window
	keys map[string]map[int64]*cell // key -> window start -> cell
}

type window struct {
	cells   map[string]*cell // key -> cell
	version uint64           // gen at the last change
}

type cell struct {
	parts []part
	agg   total.Total // sum over parts
}

// part is the newest total of one (dims, sub) series of a cell.
type part struct {
	dims string
	sub  int
	pair [][2]string // parsed dims, for filters
	t    total.Total
}

func newStore() *store { return &store{tables: make(map[tableID]*table)} }

// apply stores the totals of one batch, in offset order: a newer total of a
// series replaces the older. Totals of windows starting before floor(size)
// are dropped (they are InfluxDB's). It returns how many were kept.
func (s *store) apply(ts []total.Total, floor func(size int64) int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := 0
	for i := range ts {
		t := &ts[i]
		if t.Start < floor(t.Size) {
			continue
		}
		kept++
		id := tableID{t.Size, t.Type}
		tb := s.tables[id]
		if tb == nil {
			tb = &table{wins: make(map[int64]*window), keys: make(map[string]map[int64]*cell)}
			s.tables[id] = tb
		}
		w := tb.wins[t.Start]
		if w == nil {
			w = &window{cells: make(map[string]*cell)}
			tb.wins[t.Start] = w
		}
		c := w.cells[t.Key]
		if c == nil {
			c = &cell{}
			w.cells[t.Key] = c
			kw := tb.keys[t.Key]
			if kw == nil {
				kw = make(map[int64]*cell)
				tb.keys[t.Key] = kw
			}
			kw[t.Start] = c
			s.cells++
		}
		c.put(t)
		s.gen++
		w.version = s.gen
	}
	return kept
}

func (c *cell) put(t *total.Total) {
	found := false
	for i := range c.parts {
		p := &c.parts[i]
		if p.dims == t.DimSet && p.sub == t.Sub {
			p.t = *t
			found = true
			break
		}
	}
	if !found {
		c.parts = append(c.parts, part{dims: t.DimSet, sub: t.Sub, pair: total.ParseDimSet(t.DimSet), t: *t})
	}
	c.agg = total.Total{}
	for i := range c.parts {
		c.agg.Merge(c.parts[i].t)
	}
}

// evict drops the windows starting before floor(size).
func (s *store) evict(floor func(size int64) int64) (windows int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, tb := range s.tables {
		f := floor(id.size)
		for start, w := range tb.wins {
			if start >= f {
				continue
			}
			for key := range w.cells {
				kw := tb.keys[key]
				delete(kw, start)
				if len(kw) == 0 {
					delete(tb.keys, key)
				}
			}
			s.cells -= len(w.cells)
			delete(tb.wins, start)
			windows++
		}
		if len(tb.wins) == 0 {
			delete(s.tables, id)
		}
	}
	return windows
}

// sum merges key's totals over the windows [from, to) matching f.
func (s *store) sum(size int64, typ, key string, from, to int64, f filter) total.Total {
	var out total.Total
	s.mu.RLock()
	defer s.mu.RUnlock()
	tb := s.tables[tableID{size, typ}]
	if tb == nil {
		return out
	}
	kw := tb.keys[key]
	if kw == nil {
		return out
	}
	if int64(len(kw)) < (to-from)/size {
		for start, c := range kw {
			if start >= from && start < to {
				c.mergeInto(&out, f)
			}
		}
		return out
	}
	for start := from; start < to; start += size {
		if c := kw[start]; c != nil {
			c.mergeInto(&out, f)
		}
	}
	return out
}

func (c *cell) mergeInto(out *total.Total, f filter) {
	if len(f) == 0 {
		out.Merge(c.agg)
		return
	}
	for i := range c.parts {
		if f.match(c.parts[i].pair) {
			out.Merge(c.parts[i].t)
		}
	}
}

func (c *cell) count(f filter) int64 {
	if len(f) == 0 {
		return c.agg.Count
	}
	var n int64
	for i := range c.parts {
		if f.match(c.parts[i].pair) {
			n += c.parts[i].t.Count
		}
	}
	return n
}

// stamp is the version of the windows [from, to): the newest change and
// the number of windows present. Any change in the range makes the newest
// change newer; a window leaving without a change elsewhere lowers the
// number.
type stamp struct {
	version uint64
	windows int
}

// counts adds every key's count over the windows [from, to) matching f to
// into, and returns the stamp of the range.
func (s *store) counts(size int64, typ string, from, to int64, f filter, into map[string]int64) stamp {
	var st stamp
	s.mu.RLock()
	defer s.mu.RUnlock()
	tb := s.tables[tableID{size, typ}]
	if tb == nil {
		return st
	}
	s.eachWindow(tb, size, from, to, func(w *window) {
		st.windows++
		st.version = max(st.version, w.version)
		if into == nil {
			return
		}
		for key, c := range w.cells {
			if n := c.count(f); n != 0 {
				into[key] += n
			}
		}
	})
	return st
}

// stampOf is the stamp of the windows [from, to).
func (s *store) stampOf(size int64, typ string, from, to int64) stamp {
	return s.counts(size, typ, from, to, nil, nil)
}

func (s *store) eachWindow(tb *table, size, from, to int64, fn func(*window)) {
	if int64(len(tb.wins)) < (to-from)/size {
		for start, w := range tb.wins {
			if start >= from && start < to {
				fn(w)
			}
		}
		return
	}
	for start := from; start < to; start += size {
		if w := tb.wins[start]; w != nil {
			fn(w)
		}
	}
}

// size is the number of windows and cells held.
func (s *store) size() (windows, cells int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, tb := range s.tables {
		windows += len(tb.wins)
	}
	return windows, s.cells
}
