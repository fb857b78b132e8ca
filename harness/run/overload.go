package run

// The traffic side of a run's faults: overload multiplies the sender's
// offered rate, clock-skew and late-burst shift the generator's event
// times. package faults must not import sim, so the run adapts its sender
// and generator to faults.Load and faults.Clock here.

import (
	"fmt"
	"sync"
	"time"

	"github.com/countlab/countlab/faults"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
)

// trafficCtl is a run's traffic, as the faults that act on it see it.
type trafficCtl struct {
	gen   *sim.Generator
	sched *sim.Schedule

	mu  sync.Mutex
	snd *sim.Sender // set once the sender exists
}

func (c *trafficCtl) setSender(s *sim.Sender) {
	c.mu.Lock()
	c.snd = s
	c.mu.Unlock()
}

// trafficTarget is the faults.Target of a run: the target's controls,
// plus the traffic's faults.Load and faults.Clock. The optional fault
// interfaces of the controls are passed on (controls.go).
type trafficTarget struct {
	faults.Target
	tc *trafficCtl
}

var (
	_ faults.Load  = trafficTarget{}
	_ faults.Clock = trafficTarget{}
)

// faultTarget is the target of the run's fault schedule.
func (r *scenarioRun) faultTarget() faults.Target {
	return trafficTarget{r.target.Controls, r.traffic}
}

// SetLoadFactor implements faults.Load.
func (t trafficTarget) SetLoadFactor(f float64) error {
	if !(f > 0) {
		return fmt.Errorf("load factor must be > 0 (got %v)", f)
	}
	t.tc.sched.SetFactor(f)
	return nil
}

// Throttled implements faults.Load: the sends the gateway refused with
// 429 so far.
func (t trafficTarget) Throttled() int64 {
	t.tc.mu.Lock()
	s := t.tc.snd
	t.tc.mu.Unlock()
	if s == nil {
		return 0
	}
	return s.Progress().Throttled
}

// SetClockSkew implements faults.Clock.
func (t trafficTarget) SetClockSkew(share float64, offset time.Duration) error {
	return t.tc.gen.SetClockSkew(share, offset)
}

// SetLateBurst implements faults.Clock.
func (t trafficTarget) SetLateBurst(share float64) error {
	return t.tc.gen.SetLateBurst(share)
}

// overloadRate is a scenario's rate shape with its overload faults'
// factors over their spans: the offered rate.
type overloadRate struct {
	base  sim.Rate
	spans []overloadSpan
}

type overloadSpan struct {
	from, to time.Duration
	factor   float64
}

// At implements sim.Rate.
func (r overloadRate) At(t time.Duration) float64 {
	v := r.base.At(t)
	for _, s := range r.spans {
		if t >= s.from && t < s.to {
			v *= s.factor
		}
	}
	return v
}

// offeredRate is the rate the run offers over time: the scenario's shape,
// multiplied by each overload fault's factor for its span.
func offeredRate(sc *scenarios.Scenario) sim.Rate {
	r := overloadRate{base: sc.RateFunc()}
	for _, f := range sc.Faults {
		if factor := faults.LoadFactor(f); factor != 1 {
			r.spans = append(r.spans, overloadSpan{f.Start, f.Start + f.Duration, factor})
		}
	}
	if len(r.spans) == 0 {
		return r.base
	}
	return r
}

// offeredEvents is the sends the run's schedule makes over the scenario's
// duration, overload faults included (the integral of offeredRate).
func offeredEvents(sc *scenarios.Scenario) float64 {
	rate := offeredRate(sc)
	if _, ok := rate.(overloadRate); !ok {
		return sc.OfferedEvents()
	}
	const steps = 4000
	dt := sc.Duration / steps
	var n float64
	for i := 0; i < steps; i++ {
		n += rate.At(time.Duration(i)*dt+dt/2) * dt.Seconds()
	}
	return n
}
