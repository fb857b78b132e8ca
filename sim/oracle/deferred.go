package oracle

// In sim mode without identity generations, AddAll does not look up an
// acknowledged accepted event's identity at once: it puts the event in
// the queue of its identity's table (idSet.part), and when a queue is
// full all its events are looked up and counted together, in the order
// they came. Lookups into one table of a few MiB, one after another,
// stay within its pages and their page-table entries; one at a time into
// the whole set (hundreds of MiB for a long run) each is a TLB and cache
// miss, which made the identity lookup the largest single cost of the
// harness. The first acknowledged copy of an identity still wins: its
// copies share a queue, and a queue is worked in order. Every method that
// reads or changes the state other than AddAll settles the queues first
// (lock), so nothing outside sees an event acknowledged and not counted.

// deferredQueue is the most events a queue holds before it is worked.
const deferredQueue = 512

// deferredAck is an acknowledged accepted event waiting for its identity
// to be looked up: its series (interned, no window yet), event time and
// value.
type deferredAck struct {
	id     fingerprint
	series wkey
	ts     int64
	v      float64
}

// deferring says whether AddAll's acknowledged events queue (sim mode,
// one generation of identities, an identity set in parts).
func (o *Oracle) deferring() bool {
	return o.cfg.idGen == 0 && len(o.seen.parts) > 1 && len(o.parts) == 0
}

// deferAck queues an acknowledged accepted event (o.mu held), working its
// queue when it is full.
func (o *Oracle) deferAck(id fingerprint, e *Event, late bool) {
	if o.queues == nil {
		o.queues = make([][]deferredAck, len(o.seen.parts))
	}
	p := o.seen.part(id)
	q := o.queues[p]
	if q == nil {
		q = make([]deferredAck, 0, deferredQueue)
	}
	q = append(q, deferredAck{id: id, series: o.series(e, late, false), ts: e.TS, v: eventValue(e)})
	if len(q) == deferredQueue {
		q = o.work(q)
	}
	o.queues[p] = q
}

// work looks up and counts a queue's events, in order (o.mu held), and
// returns the queue emptied.
func (o *Oracle) work(q []deferredAck) []deferredAck {
	o.touch(q)
	for i := range q {
		a := &q[i]
		if !o.seen.add(a.id) {
			o.stats.Duplicates++
			continue
		}
		o.countSeries(a.series, a.ts, a.v)
	}
	clear(q)
	return q[:0]
}

// touch reads the first slot of each of q's identities (one table's)
// before any is looked up: the reads do not depend on one another, so the
// core has their cache misses outstanding at once, and the lookups that
// follow, one after another in order, find their slots in cache. A slot
// that a doubling of the table moves is only a wasted read.
func (o *Oracle) touch(q []deferredAck) {
	if len(q) == 0 {
		return
	}
	t := &o.seen.parts[o.seen.part(q[0].id)]
	x := o.touched
	for i := range q {
		x ^= t.touch(q[i].id)
	}
	o.touched = x
}

// settle works every queue (o.mu held).
func (o *Oracle) settle() {
	for p, q := range o.queues {
		if len(q) > 0 {
			o.queues[p] = o.work(q)
		}
	}
}

// lock takes o.mu and settles the queues: how every method but AddAll
// begins.
func (o *Oracle) lock() {
	o.mu.Lock()
	o.settle()
}
