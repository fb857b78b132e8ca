package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// The clock faults a Generator can be switched into while it runs (from
// another goroutine than the one calling Next): a clock skew of a share
// of the clients, and a burst of too-late events. Their draws come from a
// random source of their own, so the base stream (keys, types, values,
// duplicates) is the same with or without them.

// clockFaults is the generator's fault state; every field is read by Next
// and written by the Set methods.
type clockFaults struct {
	skewShare atomic.Uint64 // math.Float64bits; 0: off
	skewMS    atomic.Int64
	lateShare atomic.Uint64 // math.Float64bits; 0: off
	r         *rand.Rand    // used by Next only
	skewed    atomic.Int64
	burstLate atomic.Int64
}

func newClockFaults(seed uint64) clockFaults {
	return clockFaults{r: rand.New(rand.NewPCG(seed^0xc10c, seed^0x1a7e))}
}

// SetClockSkew shifts the event time of share (in [0, 1]) of the fresh
// events by offset (positive: the client's clock is ahead), from the
// next event on, until the next SetClockSkew; share 0 ends it. A client
// is picked per event, so share is both the share of the clients whose
// clock is off and of the events. A skewed event is counted where its
// skewed time puts it (the truth gets the same time); whether it is
// still on time is the caller's concern (an offset within the engine's
// out-of-orderness + lateness, with room for the other disorder, keeps
// it on time).
func (g *Generator) SetClockSkew(share float64, offset time.Duration) error {
	if share < 0 || share > 1 || math.IsNaN(share) {
		return fmt.Errorf("sim: clock skew share must be in [0, 1] (got %v)", share)
	}
	g.faults.skewMS.Store(offset.Milliseconds())
	g.faults.skewShare.Store(math.Float64bits(share))
	return nil
}

// SetLateBurst makes share (in [0, 1]) of the fresh events too late, from
// the next event on, until the next SetLateBurst; share 0 ends it. A
// too-late event is made as Disorder.TooLate makes them: its time is
// Disorder.LateBy before its send time and it is marked Late (the engine
// counts it only after a reconcile; the truth keeps it apart), and none
// is made in the first Disorder.LateAfter of the run. It is an error when
// the generator has no Disorder.LateBy.
func (g *Generator) SetLateBurst(share float64) error {
	if share < 0 || share > 1 || math.IsNaN(share) {
		return fmt.Errorf("sim: late burst share must be in [0, 1] (got %v)", share)
	}
	if share > 0 && g.cfg.Disorder.LateBy <= 0 {
		return errors.New("sim: a late burst needs Disorder.LateBy (how late a too-late event is)")
	}
	g.faults.lateShare.Store(math.Float64bits(share))
	return nil
}

// FaultStats are the events the clock faults changed so far.
type FaultStats struct {
	// Skewed is the fresh events whose time a clock skew shifted.
	Skewed int64
	// Late is the fresh events a late burst made too late.
	Late int64
}

// FaultStats is what the clock faults changed so far; safe during Next.
func (g *Generator) FaultStats() FaultStats {
	return FaultStats{Skewed: g.faults.skewed.Load(), Late: g.faults.burstLate.Load()}
}

// applyFaults applies the clock faults on to the fresh item it, intended
// to be sent at at.
func (g *Generator) applyFaults(it *Item, at time.Duration) {
	f := &g.faults
	if b := f.lateShare.Load(); b != 0 && !it.Late && at >= g.cfg.Disorder.LateAfter {
		if f.r.Float64() < math.Float64frombits(b) {
			it.Event.TS = g.start + at.Milliseconds() - g.cfg.Disorder.LateBy.Milliseconds()
			it.Late = true
			g.stats.Late++
			f.burstLate.Add(1)
		}
	}
	if b := f.skewShare.Load(); b != 0 {
		if f.r.Float64() < math.Float64frombits(b) {
			it.Event.TS += f.skewMS.Load()
			f.skewed.Add(1)
		}
	}
}
