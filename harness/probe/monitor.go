package probe

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
)

// monitor samples the live probes on every tick while the traffic runs
// (reports.Probes), checks the scenario's abort conditions on each sample
// and the steady state before the first fault, and stops the traffic
// (Traffic's context) when the run aborts.
type monitor struct {
	sc  *scenarios.Scenario
	t0  time.Time // the traffic's start
	log *slog.Logger

	snd   *sim.Sender
	prev  sim.Progress
	prevT time.Time

	// traffic is the context the sender and the fault schedule run with:
	// cancelled on an abort.
	traffic context.Context
	stop    context.CancelFunc

	ackMu sync.Mutex
	ack   *hdrhistogram.Histogram // the second's ack latencies, µs

	mu      sync.Mutex
	samples []reports.ProbeSample
	broken  []int // consecutive broken samples of each abort condition
	aborted *reports.Aborted
	steady  *reports.SteadyState
}

// newMonitor starts nothing: begin it with the sender, sample it on the
// probes' tick.
func newMonitor(ctx context.Context, sc *scenarios.Scenario, log *slog.Logger) *monitor {
	m := &monitor{sc: sc, log: log, ack: sim.NewHistogram(), broken: make([]int, len(sc.Abort))}
	m.traffic, m.stop = context.WithCancel(ctx)
	return m
}

// onAck records an acknowledgement's latency (intended send time at,
// acknowledged now).
func (m *monitor) onAck(at, now time.Time) {
	m.ackMu.Lock()
	_ = m.ack.RecordValue(max(1, now.Sub(at).Microseconds()))
	m.ackMu.Unlock()
}

// begin starts the monitor's samples: now is the traffic's start.
func (m *monitor) begin(start time.Time, snd *sim.Sender) {
	m.mu.Lock()
	m.t0 = start
	m.mu.Unlock()
	m.snd, m.prev, m.prevT = snd, snd.Progress(), start
}

// sample takes the live probes of one tick's reading and checks the
// abort conditions on them.
func (m *monitor) sample(r *reading) {
	now, p := r.now, r.prog
	s := reports.ProbeSample{T: now, Values: map[string]float64{}}
	prev := m.prev
	dAck, dRej := p.Acked-prev.Acked, p.Rejected-prev.Rejected
	dRetry := (p.Resent - prev.Resent) + (p.Failed - prev.Failed)
	dErr := max(0, dRetry-(p.Throttled-prev.Throttled))
	if sends := dAck + dRej + dRetry; sends > 0 {
		s.Values[reports.ProbeIngestErrorShare] = float64(dErr) / float64(sends)
	}
	s.Values[reports.ProbeAchieved] = float64(dAck) / now.Sub(m.prevT).Seconds()
	m.ackMu.Lock()
	h := m.ack
	m.ack = sim.NewHistogram()
	m.ackMu.Unlock()
	if h.TotalCount() > 0 {
		s.Values[reports.ProbeIngestAckP99] = float64(h.ValueAtQuantile(99)) / 1000
	}
	if r.lagOK {
		s.Values[reports.ProbeEngineLag] = float64(r.lags.Engine)
	}
	m.prev, m.prevT = p, now
	m.add(s)
}

// add records a sample and checks the abort conditions on it.
func (m *monitor) add(s reports.ProbeSample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples = append(m.samples, s)
	for i, a := range m.sc.Abort {
		v, ok := s.Values[a.Probe]
		if !ok {
			continue // not measured this second: the streak goes on
		}
		if bound(a.Bound).Holds(v) {
			m.broken[i] = 0
			continue
		}
		m.broken[i]++
		need := int(math.Ceil(a.After.Seconds()))
		if m.broken[i] >= need && m.aborted == nil {
			m.abortLocked(s.T, fmt.Sprintf("abort[%d]", i),
				fmt.Sprintf("%s was %g, beyond its bound %s, in every second for %s", a.Probe, v, a.Bound, a.After))
		}
	}
}

func (m *monitor) abortLocked(at time.Time, cond, reason string) {
	m.aborted = &reports.Aborted{Reason: reason, AtS: at.Sub(m.t0).Seconds(), Condition: cond}
	m.log.Warn("run aborted", "condition", cond, "reason", reason)
	m.stop()
}

// steadyState is the faults.Schedule's SteadyState hook: the steady-state
// checks over the window before now (the first fault's start); when they
// fail the run aborts and no fault is injected.
func (m *monitor) steadyState(context.Context) error {
	window, checks, ok := m.sc.SteadyStateChecks()
	if !ok {
		return nil
	}
	bounds := make([]reports.Bound, len(checks))
	for i, c := range checks {
		bounds[i] = bound(c)
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := reports.CheckSteadyState(m.samples, now.Add(-window), now, bounds)
	m.steady = ss
	if ss.Pass {
		return nil
	}
	reason := "steady state not met before the first fault (" + ss.Failed() + "): no fault injected"
	if m.aborted == nil {
		m.abortLocked(now, "steady_state", reason)
	}
	return fmt.Errorf("%s", reason)
}

// result is the run's abort, steady state and samples.
func (m *monitor) result() (*reports.Aborted, *reports.SteadyState, []reports.ProbeSample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.aborted, m.steady, m.samples
}

// isAborted reports whether the run aborted.
func (m *monitor) isAborted() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.aborted != nil
}

// bound is a scenario bound as the reports package's.
func bound(b scenarios.Bound) reports.Bound {
	kind, v := b.Limit()
	return reports.Bound{Probe: b.Probe, Kind: kind, Limit: v}
}

// PhaseBounds are the scenario's phase SLOs as the reports package's.
func PhaseBounds(sc *scenarios.Scenario) []reports.PhaseBound {
	out := make([]reports.PhaseBound, len(sc.PhaseSLO))
	for i, p := range sc.PhaseSLO {
		out[i] = reports.PhaseBound{Bound: bound(p.Bound), Phase: p.Phase}
	}
	return out
}

// abortNow aborts the run at once for a reason found outside the probes:
// the hook of a rolling check (a later round's lost acknowledged event,
// condition "lost_acked").
func (m *monitor) abortNow(cond, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.aborted == nil {
		m.abortLocked(time.Now(), cond, reason)
	}
}
