package run

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/harness"
	"github.com/countlab/countlab/harness/probe"
	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/oracle"
)

// planLagEvery is how often a trial samples the engine's consumer lag.
const planLagEvery = 250 * time.Millisecond

// planCell runs the trials of one grid cell on its running stack. Every
// trial's acknowledged events go into one truth (sim/oracle), checked exactly after
// the cell's last trial; each trial has keys of its own (its tracers
// too), and waits for the lag to drain before it returns.
type planCell struct {
	plan        *scenarios.Plan
	st          *stack.Stack
	target      *Target
	bound       int64 // the drain's lag bound, records
	partitions  int
	workers     int
	keyBase     string // before every key: unique per run when the stack is shared
	token       string
	crit        reports.PlanCriteria
	truth       *oracle.Oracle
	qc          *client.Client
	log         *slog.Logger
	out         io.Writer
	status      *planStatus
	trialsSoFar int
}

// planStatus is what the live progress line shows.
type planStatus struct {
	start time.Time
	cell  atomic.Pointer[string]
	what  atomic.Pointer[string]
	snd   atomic.Pointer[sim.Sender]
	last  atomic.Pointer[string]
}

func (s *planStatus) set(p *atomic.Pointer[string], v string) { p.Store(&v) }

func (s *planStatus) line() string {
	get := func(p *atomic.Pointer[string]) string {
		if v := p.Load(); v != nil {
			return *v
		}
		return ""
	}
	l := fmt.Sprintf("%s | %s", get(&s.cell), get(&s.what))
	if snd := s.snd.Load(); snd != nil {
		p := snd.Progress()
		l += fmt.Sprintf(" | %s sending, %d acked", p.Elapsed.Round(time.Second), p.Acked)
	}
	if v := get(&s.last); v != "" {
		l += " | last: " + v
	}
	return l + fmt.Sprintf(" | %s elapsed", time.Since(s.start).Round(time.Second))
}

// trial is the cell's trialFunc.
func (c *planCell) trial(ctx context.Context, phase string, rate float64, d time.Duration) (reports.PlanTrial, error) {
	c.trialsSoFar++
	n := c.trialsSoFar
	c.status.set(&c.status.what, fmt.Sprintf("trial %d (%s) at %s events/s for %s", n, phase, strconv.FormatFloat(rate, 'f', 0, 64), d))
	sc := c.plan.TrialScenario(rate, d, c.partitions, c.workers)
	start := time.Now()
	runID := "p" + strconv.FormatInt(start.UnixMilli(), 36) + "-"
	gcfg, err := sc.GeneratorConfig(runID, start)
	if err != nil {
		return reports.PlanTrial{}, harness.ConfigError{Err: err}
	}
	gcfg.KeyPrefix = fmt.Sprintf("%st%d-%s", c.keyBase, n, gcfg.KeyPrefix)
	gen, err := sim.NewGenerator(gcfg)
	if err != nil {
		return reports.PlanTrial{}, harness.ConfigError{Err: err}
	}
	format, _ := sim.ParseFormat(sc.Traffic.Format)
	var tr sim.Transport
	if sc.Traffic.Via == "kafka" {
		k, err := sim.NewKafka(c.st.Conn(), c.st.Topics().Events, format)
		if err != nil {
			return reports.PlanTrial{}, err
		}
		defer k.Close()
		tr = k
	} else {
		tr = sim.NewGateway("http://"+c.st.GatewayAddr(), c.token, format, sc.Traffic.Connections)
	}
	freshTimeout := 5 * time.Second
	if f := time.Duration(2 * c.crit.MaxP99FreshnessMS * float64(time.Millisecond)); f > freshTimeout {
		freshTimeout = f
	}
	probeCtx, stopProbes := context.WithCancel(ctx)
	defer stopProbes()
	fresh := &reports.Freshness{Client: c.qc, Window: c.st.Windows()[0], Timeout: freshTimeout}
	snd, err := sim.NewSender(sim.SenderConfig{
		Generator:   gen,
		Schedule:    sc.Schedule(),
		Duration:    d,
		Transport:   tr,
		Connections: sc.Traffic.Connections,
		BatchMax:    sc.Traffic.Batch.MaxEvents,
		FlushEvery:  sc.Traffic.Batch.Flush,
		TracerEvery: c.plan.Search.TracerEvery,
		// Each trial's ids carry its run id: trials stay apart in the
		// cell's truth.
		Truth: TruthOf(c.truth, sc.Traffic.Via == "kafka"),
		OnAck: func(it *sim.Item, _ time.Time) {
			if it.Tracer {
				fresh.Track(probeCtx, it.Event.Key, it.Event.Type, it.Event.Time(), start.Add(it.At))
			}
		},
	})
	if err != nil {
		return reports.PlanTrial{}, harness.ConfigError{Err: err}
	}
	// The lag series and the CPU, on one tick (harness/probe).
	probes := probe.New(ctx, probe.Config{Scenario: sc, Rate: sc.RateFunc(), Duration: d, Every: planLagEvery,
		Sampled: probe.Series | probe.CPU, Log: c.log}, c.target.Probes)
	defer probes.Close()
	c.status.snd.Store(snd)
	probes.Start(snd, nil)
	sendErr := snd.Run(ctx)
	sendDur := time.Since(start)
	measured := probes.Stop(snd)
	cpu := measured.CPU
	c.status.snd.Store(nil)
	if ctx.Err() != nil {
		return reports.PlanTrial{}, ctx.Err()
	}
	c.status.set(&c.status.what, fmt.Sprintf("trial %d (%s) at %.0f events/s: waiting for tracers and the lag to drain", n, phase, rate))
	fresh.Wait()
	p := snd.Progress()
	ts := measured.Series
	t := reports.PlanTrial{
		Phase: phase, StartedAt: start.UTC(), OfferedEventsPerS: rate, DurationS: sendDur.Seconds(),
		Generated: p.Generated, Acked: p.Acked, Failed: p.Failed, Rejected: p.Rejected,
		AchievedEventsPerS: float64(p.Acked) / sendDur.Seconds(),
		SenderMaxLagMS:     float64(p.MaxLag.Microseconds()) / 1000,
		IngestAck:          reports.FromHistogram(snd.Histogram()),
		Freshness:          reports.FromHistogram(fresh.Histogram()),
		Lag:                reports.LagTotal(ts.Lag),
		Achieved:           ts.Achieved,
		CPU:                cpu.Trial(),
	}
	_, t.TracersMissed = fresh.Counts()
	if sendErr != nil {
		c.log.Warn("transport error during a trial (it went on)", "err", sendErr)
	}
	if err := c.st.Err(); err != nil {
		return t, fmt.Errorf("the stack failed during the trial: %w", err)
	}
	drainStart := time.Now()
	t.Drained = c.drain(ctx, c.plan.Search.DrainTimeout)
	t.DrainS = time.Since(drainStart).Seconds()
	if ctx.Err() != nil {
		return t, ctx.Err()
	}
	t.Judge(c.crit)
	verdict := "sustainable"
	if !t.Sustainable {
		verdict = "NOT sustainable"
	}
	c.status.set(&c.status.last, fmt.Sprintf("%.0f events/s %s", rate, verdict))
	fmt.Fprintf(c.out, "    trial %d %-6s %8.0f events/s: achieved %.0f (%.1f%%), lag slope %+.0f/s (max %.0f), p99 ack %s ms, p99 freshness %s ms, drained in %.1fs -> %s\n",
		n, phase, rate, t.AchievedEventsPerS, 100*t.AchievedRatio, t.LagSlopePerS, t.LagMax, fmtMS(t.IngestAck.P99), fmtMS(t.Freshness.P99), t.DrainS, verdict)
	for _, w := range t.Why {
		fmt.Fprintf(c.out, "      - %s\n", w)
	}
	return t, nil
}

// drain waits until the engine's and the sink's lag are back under the
// probe's bound, at most timeout; it reports whether they are.
func (c *planCell) drain(ctx context.Context, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if c.st.Lag().Recovered(ctx, c.bound) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func fmtMS(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
