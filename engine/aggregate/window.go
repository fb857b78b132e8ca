package aggregate

import (
	"slices"
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/total"
)

// series is one interned (type, key, dimension set); windows point at it
// so the per-event map keys are small and hash fast.
type series struct {
	typ, key, dims string
	refs           int
	// cache holds, per window size (index into the sizes), the window
	// last counted into: events of a key mostly arrive in time order,
	// so most events skip the window map lookup.
	cache []*window
}

type winKey struct {
	s           *series
	size, start int64
}

// window is one open window's total on one partition, with the undo
// information of the uncommitted batch.
type window struct {
	k       winKey
	t       total.Total
	dirty   bool        // touched in the uncommitted batch
	created bool        // created in the uncommitted batch
	closing bool        // its Closed total is in the uncommitted batch
	live    bool        // in the partition's window map
	prev    total.Total // value at the last commit (when dirty && !created)
	// subs are the sub-totals by event-time ms of an enriched run's
	// window (subtotal.go); nil without enrichment.
	subs *subTotals
}

// partition is the aggregation state of one events-topic partition: its
// open windows, dedup set and watermark, plus what the uncommitted batch
// changed so an aborted transaction can be undone exactly.
type partition struct {
	id int32

	wm      watermark
	wmStart watermark // at the last commit, for rollback

	seriesByName map[string]*series
	windows      map[winKey]*window
	closing      map[int64][]*window // close time (end + lateness) -> windows
	dedup        *dedupSet
	// enrich: windows keep sub-totals by event time (subtotal.go).
	enrich bool

	dirty   []*window
	changed bool // the batch consumed records or moved the watermark

	nameBuf []byte
	scr     recScratch // record's per-event buffers and counts (parallel.go)

	// metrics
	m      partitionMetrics
	hot    *spaceSaving
	events int64 // counted in the current load interval
}

func newPartition(id int32, dedupWidth int64, now time.Time) *partition {
	wm := newWatermark(now)
	return &partition{
		id:           id,
		wm:           wm,
		wmStart:      wm,
		seriesByName: make(map[string]*series),
		windows:      make(map[winKey]*window),
		closing:      make(map[int64][]*window),
		dedup:        newDedupSet(dedupWidth),
		hot:          newSpaceSaving(defaultHotKeyCapacity),
	}
}

// seriesFor interns (typ, key, dims). dims is built in p.nameBuf by the
// caller's event; no allocation when the series exists.
func (p *partition) seriesFor(e *event.Event) *series {
	b := p.nameBuf[:0]
	b = append(b, e.Type...)
	b = append(b, 0)
	b = append(b, e.Key...)
	b = append(b, 0)
	for i, d := range e.Dims {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, d.Name...)
		b = append(b, '=')
		b = append(b, d.Value...)
	}
	p.nameBuf = b
	if s := p.seriesByName[string(b)]; s != nil {
		return s
	}
	// The series keeps only its own copy (name), never e's strings: they
	// may be the polled record's bytes (event.DecodeShared), which go back
	// to the pool after the commit.
	name := string(b)
	nt, nk := len(e.Type), len(e.Key)
	s := &series{typ: name[:nt], key: name[nt+1 : nt+1+nk], dims: name[nt+nk+2:]}
	p.seriesByName[name] = s
	return s
}

func (p *partition) seriesByTotal(t *total.Total) *series {
	name := t.Type + "\x00" + t.Key + "\x00" + t.DimSet
	if s := p.seriesByName[name]; s != nil {
		return s
	}
	s := &series{typ: t.Type, key: t.Key, dims: t.DimSet}
	p.seriesByName[name] = s
	return s
}

// add counts value v at event time ts into the window of each size.
func (p *partition) add(s *series, ts int64, v float64, sizes []int64, lateness int64) {
	if len(s.cache) != len(sizes) {
		s.cache = make([]*window, len(sizes))
	}
	for i, size := range sizes {
		start := total.WindowStart(ts, size)
		w := s.cache[i]
		if w == nil || !w.live || w.k.start != start {
			w = p.windows[winKey{s, size, start}]
		}
		if w == nil {
			w = &window{k: winKey{s, size, start}, created: true, dirty: true, live: true, t: total.Total{
				Key: s.key, Type: s.typ, DimSet: s.dims, Sub: int(p.id), Start: start, Size: size,
			}}
			if p.enrich {
				w.subs = &subTotals{}
			}
			s.refs++
			p.windows[w.k] = w
			p.dirty = append(p.dirty, w)
			closeAt := start + size + lateness
			p.closing[closeAt] = append(p.closing[closeAt], w)
		} else if !w.dirty {
			w.dirty = true
			w.prev = w.t
			p.dirty = append(p.dirty, w)
		}
		s.cache[i] = w
		w.t.Add(v)
		if w.subs != nil {
			w.subs.add(ts, v)
		}
	}
}

// install puts a restored open total into the state, with its restored
// sub-totals (by event time) in an enriched run.
func (p *partition) install(t total.Total, lateness int64, subs []sub) {
	s := p.seriesByTotal(&t)
	k := winKey{s, t.Size, t.Start}
	if old := p.windows[k]; old != nil {
		old.t = t
		if old.subs != nil {
			old.subs.done = subs
		}
		return
	}
	s.refs++
	w := &window{k: k, t: t, live: true}
	if p.enrich {
		w.subs = &subTotals{done: subs}
	}
	p.windows[k] = w
	closeAt := t.Start + t.Size + lateness
	p.closing[closeAt] = append(p.closing[closeAt], w)
}

// due returns the close times <= the watermark, ascending.
func (p *partition) due() []int64 {
	if p.wm.wm == minWatermark {
		return nil
	}
	var out []int64
	for at := range p.closing {
		if at <= p.wm.wm {
			out = append(out, at)
		}
	}
	slices.Sort(out)
	return out
}

// closable calls fn for every live window due to close; it changes nothing.
func (p *partition) closable(due []int64, fn func(*window)) {
	for _, at := range due {
		for _, w := range p.closing[at] {
			if p.windows[w.k] == w {
				fn(w)
			}
		}
	}
}

// rollback undoes the uncommitted batch.
func (p *partition) rollback() {
	for _, w := range p.dirty {
		if w.created {
			if p.windows[w.k] == w {
				delete(p.windows, w.k)
				w.live = false
				p.unref(w.k.s)
			}
		} else {
			w.t = w.prev
			if w.subs != nil {
				w.subs.pend = w.subs.pend[:0]
			}
		}
		w.dirty, w.created = false, false
	}
	p.dirty = p.dirty[:0]
	p.dedup.rollback()
	p.wm = p.wmStart
	p.changed = false
}

// committed makes the batch permanent and evicts the windows closed in it.
func (p *partition) committed(due []int64, horizon int64) {
	for _, w := range p.dirty {
		w.dirty, w.created = false, false
		if w.subs != nil && !w.closing {
			w.subs.commit()
		}
	}
	p.dirty = p.dirty[:0]
	for _, at := range due {
		for _, w := range p.closing[at] {
			if p.windows[w.k] == w {
				delete(p.windows, w.k)
				w.live = false
				p.unref(w.k.s)
			}
		}
		delete(p.closing, at)
	}
	p.dedup.committed()
	p.dedup.expire(p.wm.wm, horizon)
	p.wmStart = p.wm
	p.changed = false
}

func (p *partition) unref(s *series) {
	s.refs--
	if s.refs <= 0 {
		delete(p.seriesByName, s.typ+"\x00"+s.key+"\x00"+s.dims)
	}
}

// stateBytes estimates the memory held: per window its map slot, struct
// and closing-list entry; per series its strings; plus the dedup set.
func (p *partition) stateBytes() int64 {
	const perWindow = 32 + 8 + 8 + 264 + 8 // key, map slot ptr, ptr, window, closing
	var seriesBytes int64
	for name := range p.seriesByName {
		seriesBytes += int64(2*len(name)) + 64
	}
	var subs int64
	if p.enrich {
		for _, w := range p.windows {
			subs += w.subs.bytes()
		}
	}
	return int64(len(p.windows))*perWindow + seriesBytes + subs + p.dedup.bytes()
}

// sealSubs seals the batch's sub-totals of every dirty window, before
// they are read at close and written to the changelog.
func (p *partition) sealSubs() {
	for _, w := range p.dirty {
		if w.subs != nil {
			w.subs.seal()
		}
	}
}
