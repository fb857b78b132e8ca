package sim

import (
	"sync/atomic"
	"time"
)

// dupHorizon publishes the generator's duplicate horizon (DupHorizon) for
// other goroutines: the generator recomputes it every dupHorizonEvery
// fresh events.
type dupHorizon struct {
	n  int
	at atomic.Int64 // ns from the start of the run
	ok atomic.Bool
}

const dupHorizonEvery = 256

// update recomputes the horizon now and then (g's goroutine), at the
// making of a fresh event intended for at (about to join the recent ones).
func (d *dupHorizon) update(g *Generator, at time.Duration) {
	if d.n++; d.n%dupHorizonEvery != 1 {
		return
	}
	h := at
	for i := range g.recent {
		h = min(h, g.recent[i].origin)
	}
	for i := range g.pending {
		h = min(h, g.pending[i].origin)
	}
	d.at.Store(int64(h))
	d.ok.Store(true)
}

// DupHorizon is the generator's duplicate horizon: no item it makes from
// now on copies the identity of a fresh event intended to be sent before
// this time (from the start of the run). Duplicates are drawn only from
// the recent fresh events (Duplicates.Recent of them) and the rest of a
// burst; the horizon is their oldest intended send time, recomputed every
// 256 fresh events (so it lags a little, which is safe: it only moves
// forward). It is 0 before the generator made anything. The sender's
// re-sends of an unacknowledged item are not the generator's: a caller
// forgetting identities leaves a margin for them. Safe for concurrent use
// with Next.
func (g *Generator) DupHorizon() time.Duration {
	if !g.dupHor.ok.Load() {
		return 0
	}
	return time.Duration(g.dupHor.at.Load())
}
