package gateway

import "sync/atomic"

// admission bounds the events in flight to Kafka over all requests. A batch
// is admitted whole or not at all, so a rejected batch produces nothing.
type admission struct {
	max int64
	cur atomic.Int64
}

// acquire reserves n slots and reports whether they fit.
func (a *admission) acquire(n int) bool {
	for {
		cur := a.cur.Load()
		if cur+int64(n) > a.max {
			return false
		}
		if a.cur.CompareAndSwap(cur, cur+int64(n)) {
			return true
		}
	}
}

// release gives back n slots.
func (a *admission) release(n int) { a.cur.Add(-int64(n)) }

// inFlight is the number of slots in use.
func (a *admission) inFlight() int64 { return a.cur.Load() }
