package query

import (
	"cmp"
	"hash/maphash"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/countlab/countlab/engine/total"
)

// storeShards is the number of shards of the store's data; a power of two.
const storeShards = 32

// applyChunk bounds the totals applied under one shard lock, so a reader
// never waits for more than one chunk of a large batch.
const applyChunk = 64

// store is the in-memory materialization of the recent windows of the
// aggregates topic: the newest total of every series, indexed by
// (size, type, key) -> window -> cell for counts and by
// (size, type, window) -> key -> cell for top-N. A cell is one key's window:
// the newest total of each (dims, sub) series and their sum.
//
// Locking: the cells are sharded by key, each shard under its own RWMutex,
// so a count or stats query read-locks one shard and a batch of totals
// from the consumer is applied shard by shard in small chunks: readers
// never queue behind a whole batch. The version of every window (for the
// caches of top-N answers) is kept apart, under a small mutex, and bumped
// after the data it stamps is written, so a reader that reads the stamp
// and then the data never caches data newer than its stamp claims (only
// older, which the next stamp check catches).
type store struct {
	// applyMu is held by apply for a whole batch, and read-held by a scan
	// that needs the data exactly as of one version (the incremental
	// top-N); count and stats readers never take it.
	applyMu sync.RWMutex

	seed   maphash.Seed
	shards [storeShards]shard
	cells  atomic.Int64 // number of cells (metrics)

	vmu  sync.RWMutex
	gen  uint64                       // version stamp source, bumped by every change
	vers map[tableID]map[int64]uint64 // window start -> gen at its last change
	logs map[tableID]*changeLog       // recent changes of unfiltered counts
}

// changeLogMax bounds the changes a table's log holds; past it the oldest
// batches go.
const changeLogMax = 1 << 17

// changeLog is a table's recent changes of cells' (unfiltered) counts, one
// batch per version, in version order: replaying the changes after
// version G onto every key's counts at G gives the counts now. Batches are
// never written once logged, so readers replay them without the lock.
type changeLog struct {
	batches []changeBatch
	n       int    // changes in batches
	dropped uint64 // changes with gen <= dropped may be gone
}

type changeBatch struct {
	gen     uint64
	changes []change
}

type change struct {
	start int64
	key   string
	delta int64
}

type shard struct {
	mu     sync.RWMutex
	tables map[tableID]*table
	_      [64]byte // keep shards' locks on separate cache lines
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
	cells map[string]*cell // key -> cell
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

func newStore() *store {
	s := &store{seed: maphash.MakeSeed(), vers: make(map[tableID]map[int64]uint64), logs: make(map[tableID]*changeLog)}
	for i := range s.shards {
		s.shards[i].tables = make(map[tableID]*table)
	}
	return s
}

func (s *store) shardOf(key string) *shard {
	return &s.shards[maphash.String(s.seed, key)&(storeShards-1)]
}

type winID struct {
	id    tableID
	start int64
}

// apply stores the totals of one batch, in offset order: a newer total of a
// series replaces the older. Totals of windows starting before floor(size)
// are dropped (they are InfluxDB's). It returns how many were kept.
func (s *store) apply(ts []total.Total, floor func(size int64) int64) int {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	var byShard [storeShards][]int32
	kept := 0
	var lastSize, lastFloor int64 // floor reads the clock: once per size
	for i := range ts {
		t := &ts[i]
		if t.Size != lastSize || i == 0 {
			lastSize, lastFloor = t.Size, floor(t.Size)
		}
		if t.Start < lastFloor {
			continue
		}
		kept++
		sh := maphash.String(s.seed, t.Key) & (storeShards - 1)
		byShard[sh] = append(byShard[sh], int32(i))
	}
	touched := make(map[winID]struct{}, 2)
	var last winID
	changes := make(map[tableID][]change, 2)
	for sh := range byShard {
		idx := byShard[sh]
		if len(idx) == 0 {
			continue
		}
		shd := &s.shards[sh]
		for len(idx) > 0 {
			chunk := idx[:min(len(idx), applyChunk)]
			idx = idx[len(chunk):]
			added := 0
			shd.mu.Lock()
			for _, i := range chunk {
				t := &ts[i]
				isNew, delta := shd.put(t)
				if isNew {
					added++
				}
				if delta != 0 {
					id := tableID{t.Size, t.Type}
					changes[id] = append(changes[id], change{start: t.Start, key: t.Key, delta: delta})
				}
				if w := (winID{tableID{t.Size, t.Type}, t.Start}); w != last {
					touched[w] = struct{}{}
					last = w
				}
			}
			shd.mu.Unlock()
			s.cells.Add(int64(added))
			// Let the goroutines answering requests run between
			// chunks: a large batch (every series of a closing window)
			// otherwise holds this P for up to a scheduler time slice
			// (10 ms) at a time while requests queue.
			runtime.Gosched()
		}
	}
	if len(touched) > 0 {
		s.vmu.Lock()
		s.gen++
		for w := range touched {
			vs := s.vers[w.id]
			if vs == nil {
				vs = make(map[int64]uint64)
				s.vers[w.id] = vs
			}
			vs[w.start] = s.gen
		}
		for id, cs := range changes {
			l := s.logs[id]
			if l == nil {
				l = &changeLog{}
				s.logs[id] = l
			}
			for l.n+len(cs) > changeLogMax && len(l.batches) > 0 {
				l.dropped = l.batches[0].gen
				l.n -= len(l.batches[0].changes)
				l.batches = l.batches[1:]
			}
			l.batches = append(l.batches, changeBatch{s.gen, cs})
			l.n += len(cs)
		}
		s.vmu.Unlock()
	}
	return kept
}

// put stores t in the shard (locked) and reports whether it made a new
// cell and by how much the cell's count changed.
func (sh *shard) put(t *total.Total) (bool, int64) {
	id := tableID{t.Size, t.Type}
	tb := sh.tables[id]
	if tb == nil {
		tb = &table{wins: make(map[int64]*window), keys: make(map[string]map[int64]*cell)}
		sh.tables[id] = tb
	}
	w := tb.wins[t.Start]
	if w == nil {
		w = &window{cells: make(map[string]*cell)}
		tb.wins[t.Start] = w
	}
	c := w.cells[t.Key]
	added := false
	if c == nil {
		c = &cell{}
		w.cells[t.Key] = c
		kw := tb.keys[t.Key]
		if kw == nil {
			kw = make(map[int64]*cell)
			tb.keys[t.Key] = kw
		}
		kw[t.Start] = c
		added = true
	}
	old := c.agg.Count
	c.put(t)
	return added, c.agg.Count - old
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
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for id, tb := range sh.tables {
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
				s.cells.Add(-int64(len(w.cells)))
				delete(tb.wins, start)
			}
			if len(tb.wins) == 0 {
				delete(sh.tables, id)
			}
		}
		sh.mu.Unlock()
	}
	s.vmu.Lock()
	defer s.vmu.Unlock()
	for id, vs := range s.vers {
		f := floor(id.size)
		for start := range vs {
			if start < f {
				delete(vs, start)
				windows++
			}
		}
		if len(vs) == 0 {
			delete(s.vers, id)
			delete(s.logs, id)
		}
	}
	return windows
}

// snapshot adds every key's unfiltered count over the windows [from, to)
// to into, exactly as of the version it returns with the range's stamp.
func (s *store) snapshot(size int64, typ string, from, to int64, into map[string]int64) (uint64, stamp) {
	s.applyMu.RLock()
	defer s.applyMu.RUnlock()
	s.vmu.RLock()
	gen := s.gen
	s.vmu.RUnlock()
	st := s.counts(size, typ, from, to, nil, into)
	return gen, st
}

// changesSince calls fn with the change of every cell's count in the
// windows [from, to) after version gen, and returns the version they bring
// the counts to and the range's stamp then; ok is false when the log no
// longer holds every change after gen.
func (s *store) changesSince(gen uint64, size int64, typ string, from, to int64, fn func(key string, delta int64)) (uint64, stamp, bool) {
	id := tableID{size, typ}
	s.vmu.RLock()
	st, now := s.stampLocked(id, size, from, to), s.gen
	var bs []changeBatch
	if l := s.logs[id]; l != nil {
		if l.dropped > gen {
			s.vmu.RUnlock()
			return 0, st, false
		}
		i, _ := slices.BinarySearchFunc(l.batches, gen+1, func(b changeBatch, g uint64) int { return cmp.Compare(b.gen, g) })
		bs = l.batches[i:] // appends go past it; batches are never written
	}
	s.vmu.RUnlock()
	for _, b := range bs {
		for _, c := range b.changes {
			if c.start >= from && c.start < to {
				fn(c.key, c.delta)
			}
		}
	}
	return now, st, true
}

// sum merges key's totals over the windows [from, to) matching f.
func (s *store) sum(size int64, typ, key string, from, to int64, f filter) total.Total {
	var out total.Total
	sh := s.shardOf(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	tb := sh.tables[tableID{size, typ}]
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
// into, and returns the stamp of the range, read before the data.
func (s *store) counts(size int64, typ string, from, to int64, f filter, into map[string]int64) stamp {
	id := tableID{size, typ}
	st := s.stampOf(size, typ, from, to)
	if into == nil || st.windows == 0 {
		return st
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		if tb := sh.tables[id]; tb != nil {
			eachWindow(tb, size, from, to, func(w *window) {
				for key, c := range w.cells {
					if n := c.count(f); n != 0 {
						into[key] += n
					}
				}
			})
		}
		sh.mu.RUnlock()
	}
	return st
}

// stampOf is the stamp of the windows [from, to).
func (s *store) stampOf(size int64, typ string, from, to int64) stamp {
	s.vmu.RLock()
	defer s.vmu.RUnlock()
	return s.stampLocked(tableID{size, typ}, size, from, to)
}

func (s *store) stampLocked(id tableID, size, from, to int64) stamp {
	var st stamp
	vs := s.vers[id]
	if vs == nil {
		return st
	}
	if int64(len(vs)) < (to-from)/size {
		for start, v := range vs {
			if start >= from && start < to {
				st.windows++
				st.version = max(st.version, v)
			}
		}
		return st
	}
	for start := from; start < to; start += size {
		if v, ok := vs[start]; ok {
			st.windows++
			st.version = max(st.version, v)
		}
	}
	return st
}

func eachWindow(tb *table, size, from, to int64, fn func(*window)) {
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
	s.vmu.RLock()
	for _, vs := range s.vers {
		windows += len(vs)
	}
	s.vmu.RUnlock()
	return windows, int(s.cells.Load())
}
