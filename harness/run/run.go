// Package run runs a scenario against a target and returns its typed
// report: the traffic (sim), the faults (faults), the probes
// (harness/probe) and the exact check of every window against the truth
// (sim/oracle, reports). The target is the embedded reference stack
// (harness/stack) unless WithTarget gives another.
//
//	r, err := run.New(run.Output(os.Stdout), run.ReportDir(dir))
//	rep, err := r.Run(ctx, sc)
//
// Plan runs a capacity plan: the maximum sustainable rate of every
// partitions x workers cell, searched over one trial function.
package run

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/countlab/countlab/faults"
	"github.com/countlab/countlab/harness"
	"github.com/countlab/countlab/harness/probe"
	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/oracle"
)

// Runner runs scenarios. It is safe to run one scenario at a time.
type Runner struct{ cfg cfg }

// New is a runner; a bad option is a harness.ConfigError.
func New(opts ...Opt) (*Runner, error) {
	c := cfg{out: io.Discard, errw: io.Discard, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &Runner{cfg: c}, nil
}

// Run runs sc (after drawing its random faults and validating it) and
// returns its report: the SLO verdicts, the probes' verdicts and, with
// Baseline, the gate's. With ReportDir, the report and the truth are
// written there. An error is a run that could not be judged (a bad
// scenario is a harness.ConfigError); a run that ran and failed returns
// its report with Pass false (Failures says why).
func (rn *Runner) Run(ctx context.Context, sc *scenarios.Scenario) (*reports.Report, error) {
	c := &rn.cfg
	if c.faultSeed != nil {
		if sc.RandomFaults == nil {
			return nil, harness.Configf("--fault-seed: scenario %s has no random_faults to draw", sc.Name)
		}
		sc.RandomFaults.Seed = *c.faultSeed
	}
	if err := sc.ExpandRandomFaults(); err != nil {
		return nil, harness.ConfigError{Err: err}
	}
	if err := sc.Validate(); err != nil {
		return nil, harness.ConfigError{Err: err}
	}
	if err := checkSessionTimeout(sc); err != nil {
		return nil, err
	}
	if err := c.checkStaging(sc); err != nil {
		return nil, err
	}
	if err := c.checkCapabilities(sc); err != nil { // what the target cannot serve (needs.go)
		return nil, err
	}
	prefix := c.runTopicPrefix(time.Now())
	r := &scenarioRun{cfg: c, sc: sc, out: c.out, errw: c.errw}
	if c.deleteTopics {
		defer func() {
			if err := deleteTopics(ctx, c.kafka, prefix, r.out); err != nil {
				fmt.Fprintf(r.errw, "countlab run: %v\n", err)
			}
		}()
	}
	rep, err := r.run(ctx, prefix)
	if err != nil {
		return nil, err
	}
	rep.EvaluateSLO(reports.Thresholds{
		MinThroughputEventsPerS: sc.SLO.MinThroughputEventsPerS,
		MaxP99IngestAckMS:       sc.SLO.MaxP99IngestAckMS,
		MaxP99FreshnessMS:       sc.SLO.MaxP99FreshnessMS,
		MaxP99QueryMS:           sc.SLO.MaxP99QueryMS,
		AccuracyExact:           sc.SLO.AccuracyExact,
		// soak: resource growth (harness/probe)
		MaxRSSSlopeMiBPerH:        sc.SLO.MaxRSSSlopeMiBPerH,
		MaxHarnessRSSSlopeMiBPerH: sc.SLO.MaxHarnessRSSSlopeMiBPerH,
		MaxHarnessRSSMiB:          sc.SLO.MaxHarnessRSSMiB,
		MaxGoroutineSlopePerH:     sc.SLO.MaxGoroutineSlopePerH,
	})
	r.finishProbes(rep) // abort, steady state, phase SLOs (probes.go)
	if len(r.faultErrs) > 0 || len(r.duringErrs) > 0 {
		rep.Pass = false
	}
	if c.reportDir == "" {
		return rep, nil
	}
	if err := rep.WriteFiles(c.reportDir); err != nil {
		return nil, err
	}
	if len(c.baseline) > 0 {
		if err := GateReport(rep, c.reportDir, c.baseline); err != nil {
			return nil, err
		}
	}
	if RollingOn(sc) {
		fmt.Fprintf(r.out, "  no %s: the rolling check dropped the truth of the windows it checked\n", TruthFile)
	} else if err := r.truth.Save(filepath.Join(c.reportDir, TruthFile)); err != nil {
		return nil, err
	}
	return rep, nil
}

// Failures are why a report's run failed: the abort, the failed SLOs,
// the faults that could not be injected or healed, the regressions.
func Failures(rep *reports.Report) []string {
	var why []string
	if a := rep.Aborted; a != nil {
		why = append(why, fmt.Sprintf("aborted at %.0fs: %s", a.AtS, a.Reason))
	}
	why = append(why, rep.Failed()...)
	why = append(why, rep.FaultErrors()...)
	if rep.Baseline != nil {
		for _, m := range rep.Baseline.Regressed {
			why = append(why, "regressed "+m)
		}
	}
	return why
}

// FailureText is the one-line verdict of a failed run:
// "scenario NAME failed: " and its Failures.
func FailureText(rep *reports.Report) string {
	return fmt.Sprintf("scenario %s failed: %s", rep.Scenario, strings.Join(Failures(rep), "; "))
}

// scenarioRun is one run of a scenario.
type scenarioRun struct {
	cfg  *cfg
	sc   *scenarios.Scenario
	out  io.Writer
	errw io.Writer

	target     *Target
	truth      *oracle.Oracle // every sent event and its outcome
	traffic    *trafficCtl    // what overload and clock faults act on (overload.go)
	faultErrs  []string       // faults that could not be injected or healed
	duringErrs []string       // what the During work reported
	probes     *probe.Probes  // live probes: abort, steady state; the samplers
	faultRecs  []faults.Record
}

// startTarget is the run's target: WithTarget's, or the embedded stack
// started for sc (closed by the returned func); keyPrefix is what the run
// puts before its keys ("" : nothing), and so before its hot keys.
func (r *scenarioRun) startTarget(ctx context.Context, topicPrefix, keyPrefix string) (*Target, func(), error) {
	c := r.cfg
	if c.target != nil {
		return c.target, func() {}, nil
	}
	opts := append(c.scenarioStack(r.sc), stack.TopicPrefix(topicPrefix), stack.HotKeys(prefixed(r.sc.Engine.HotKeys, keyPrefix)))
	opts = append(opts, c.stackOpts...)
	st, err := stack.New(ctx, opts...)
	if err != nil {
		return nil, nil, err
	}
	t, err := StackTarget(st, c.token)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return t, func() {
		if s, ok := t.Store.(*reports.InfluxStore); ok {
			s.Close()
		}
		st.Close()
	}, nil
}

func (r *scenarioRun) run(ctx context.Context, topicPrefix string) (*reports.Report, error) {
	sc, c := r.sc, r.cfg
	log := c.log
	fmt.Fprintf(r.out, "countlab run %s: %s\n", sc.Name, sc.Description)
	t0 := time.Now()
	runID := "r" + strconv.FormatInt(t0.UnixMilli(), 36) + "-"
	// A cluster, InfluxDB or data dir shared with earlier runs may hold
	// totals of the same keys in the same windows: such a run's keys get
	// their own prefix (and its hot keys with them).
	ownKeys := c.isolateKeys || len(c.kafka.Brokers) > 0 || c.influx.URL != "" || c.target != nil
	keyRun := ""
	if ownKeys {
		keyRun = runID
	}
	tg, closeTarget, err := r.startTarget(ctx, topicPrefix, keyRun)
	if err != nil {
		return nil, err
	}
	defer closeTarget()
	r.target = tg
	stack.LabelStage(reports.StageHarness) // the CPU profile's stage of what the run starts from here (harness/probe)
	defer stack.UnlabelStage()
	fmt.Fprintf(r.out, "  %s up in %.1fs: %s\n", tg.Name, time.Since(t0).Seconds(), tg.Banner)
	if c.atLeastOnce {
		fmt.Fprintln(r.out, "  at-least-once (UNSAFE): engine workers run without transactions or dedup restore (testing only)")
	}
	if c.plantBug > 0 {
		fmt.Fprintf(r.out, "  planted bug: a worker mis-counting 1 event in %d joined the engine (testing only)\n", c.plantBug)
	}

	if r.truth, err = newRunTruth(sc, tg); err != nil { // rolling.go
		return nil, err
	}
	rate := offeredRate(sc)
	pcfg := probe.Config{Scenario: sc, Rate: rate, Log: log}
	if len(tg.Probes.Processes) == 0 {
		pcfg.Sampled = probe.All &^ (probe.Resources | probe.CPU) // no process of the target to measure
	}
	r.probes = probe.New(ctx, pcfg, tg.Probes)
	defer r.probes.Close()
	start := time.Now()
	gcfg, err := sc.GeneratorConfig(runID, start)
	if err != nil {
		return nil, harness.ConfigError{Err: err}
	}
	if ownKeys {
		gcfg.KeyPrefix = runID + gcfg.KeyPrefix
		sc.Traffic.Keys.Prefix = gcfg.KeyPrefix
	}
	gen, err := sim.NewGenerator(gcfg)
	if err != nil {
		return nil, harness.ConfigError{Err: err}
	}
	tr, closeTr, err := tg.Ingest(sc) // routes.go for the embedded stack
	if err != nil {
		return nil, err
	}
	defer closeTr()
	tr = r.probes.Wrap(tr) // saturation: the request round trips
	counter, _ := tg.Query.(reports.Counter)
	probeCtx, stopProbes := context.WithCancel(ctx)
	defer stopProbes()
	var fresh *reports.Freshness
	if counter != nil {
		fresh = &reports.Freshness{Client: counter, Window: tg.Windows[0], Timeout: max(sc.DrainTimeout, 10*time.Second)}
	}
	firstType := sc.Traffic.Types[0].Name
	r.traffic = &trafficCtl{gen: gen, sched: sc.Schedule()}
	snd, err := sim.NewSender(sim.SenderConfig{
		Generator:   gen,
		Schedule:    r.traffic.sched,
		Duration:    sc.Duration,
		Transport:   tr,
		Connections: sc.Traffic.Connections,
		BatchMax:    sc.Traffic.Batch.MaxEvents,
		FlushEvery:  sc.Traffic.Batch.Flush,
		TracerEvery: sc.Probes.TracerEvery,
		Truth:       TruthOf(r.truth, sc.Traffic.Via == "kafka"),
		OnAck: func(it *sim.Item, now time.Time) {
			r.probes.OnAck(start.Add(it.At), now)
			if it.Tracer && fresh != nil {
				fresh.Track(probeCtx, it.Event.Key, it.Event.Type, it.Event.Time(), start.Add(it.At))
			}
		},
	})
	if err != nil {
		return nil, harness.ConfigError{Err: err}
	}
	r.traffic.setSender(snd)
	keyPick := func(rng *rand.Rand) (string, string) {
		return sc.Traffic.Keys.Prefix + strconv.Itoa(rng.IntN(min(sc.Traffic.Keys.Count, 100))), firstType
	}
	var ql *reports.QueryLoad
	qctx, stopQueries := context.WithCancel(probeCtx)
	defer stopQueries()
	var qwg sync.WaitGroup
	if counter != nil {
		ql = &reports.QueryLoad{Client: counter, Rate: sc.Probes.QueriesPerS, Pick: keyPick, Window: tg.Windows[0], Auto: tg.Retention != nil}
		qwg.Go(func() { ql.Run(qctx) })
	}

	via := fmt.Sprintf("via %s (%s)", sc.Traffic.Via, sc.Traffic.Format)
	if c.target != nil {
		via = "to " + tg.Name + "'s ingest"
	}
	fmt.Fprintf(r.out, "  sending for %s: %s, %d keys (%s), %s...\n", sc.Duration, RateText(sc), sc.Traffic.Keys.Count,
		sc.Traffic.Keys.Distribution, via)
	traffic := r.probes.Traffic() // an abort stops the traffic and heals the faults
	waitFaults, err := r.startFaults(traffic, log)
	if err != nil {
		return nil, err
	}
	waitDuring := r.startDuring(traffic, gcfg.KeyPrefix)
	r.probes.Start(snd, ql)                                                           // one tick for every sampler (harness/probe)
	stopRoll, rollStatus := r.startRolling(probeCtx, gen, snd, start, gcfg.KeyPrefix) // rolling.go
	// The metadata of an enrichment scenario (enrich.go).
	enr, err := r.startEnrichment(probeCtx, start, gcfg.KeyPrefix)
	if err != nil {
		stopRoll()
		return nil, err
	}
	prog := newProgressLine(r.errw)
	progDone := make(chan struct{})
	go func() {
		defer close(progDone)
		prog.loop(probeCtx, func() string {
			p := snd.Progress()
			var status string
			for _, part := range []string{tgStatus(tg), rollStatus(), r.probes.Status()} {
				if part != "" {
					status += " | " + part
				}
			}
			return fmt.Sprintf("%s%s | %s elapsed, %s left", p, status, p.Elapsed.Round(time.Second), max(sc.Duration-p.Elapsed, 0).Round(time.Second))
		})
	}()
	sendErr := snd.Run(traffic)
	sendDur := time.Since(start)
	rolled := stopRoll()
	measured := r.probes.Stop(snd)
	waitDuring()
	stopQueries() // the query load runs with the traffic
	qwg.Wait()
	faultRecs := waitFaults()
	r.faultRecs = faultRecs
	measured.Saturation.MarkFault(start, time.Now(), faultWindows(faultRecs))
	p := snd.Progress()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if tg.Err != nil {
		if err := tg.Err(); err != nil {
			return nil, fmt.Errorf("the target failed during the run: %w", err)
		}
	}
	if sendErr != nil {
		fmt.Fprintf(r.errw, "countlab run: transport error (the run went on): %v\n", sendErr)
	}
	if p.Acked == 0 {
		return nil, fmt.Errorf("no event was acknowledged in %s (first transport error: %v): nothing to check", sendDur.Round(time.Millisecond), sendErr)
	}

	// Drain: wait until the read side shows every expected total.
	fmt.Fprintf(r.out, "  sent: %d acknowledged, %d rejected, %d failed, %d throttled (429, re-sent); draining (up to %s)...\n", p.Acked, p.Rejected, p.Failed, p.Throttled, sc.DrainTimeout)
	drainStart := time.Now()
	prog.set(func() string { return "draining..." })
	acc, err := reports.Check(ctx, r.truth, tg.Query, reports.CheckConfig{
		Drain:      r.drainTimeout(), // shorter after an abort (probes.go)
		Store:      tg.Store,
		StoreByKey: tg.StoreByKey,
		KeyPrefix:  gcfg.KeyPrefix,
		Rolling:    rolled,
		Retention:  tg.Retention,
		Progress: func(off, total int) {
			prog.set(func() string {
				return fmt.Sprintf("draining: %d of %d windows not yet equal to the truth (%s)", off, total, time.Since(drainStart).Round(time.Second))
			})
		},
	})
	var freshSeries reports.LatencySeries
	haveFresh := false
	if fresh != nil {
		fresh.Wait()
		freshSeries, haveFresh = fresh.Series()
	}
	if haveFresh && measured.Series != nil {
		measured.Series.Latency = append(measured.Series.Latency, freshSeries)
	}
	if measured.Saturation != nil {
		measured.Saturation.Sustainable = reports.SustainableRate(measured.Series, sc.SLO.MaxP99FreshnessMS) // the ceiling with fresh answers
		measured.Saturation.Sustainable.Attribute(measured.Saturation, measured.CPU)                         // and its limiting stage (reports/ceiling.go)
	}
	stopProbes()
	<-progDone
	prog.clear()
	if err != nil {
		return nil, fmt.Errorf("accuracy check: %w", err)
	}
	reconciled := false
	if ls := r.truth.Stats(); ls.Late > 0 && tg.Reconcile != nil {
		// Late events: the check above is the engine's late policy (not
		// counted); a reconcile recounts them from Kafka, then every
		// window must equal the truth of all distinct events.
		acc, err = r.reconcileAndCheck(ctx, gcfg.KeyPrefix, acc, prog)
		if err != nil {
			return nil, err
		}
		reconciled = true
	}
	if err := enr.check(ctx, r, start.Add(sendDur), reconciled, &acc); err != nil {
		return nil, err
	}
	fmt.Fprintf(r.out, "  checked %d windows in %.1fs after the traffic\n", acc.WindowsChecked, time.Since(drainStart).Seconds())

	var qn, qerr, fn, fmissed int64
	var queryHist, freshHist reports.Percentiles
	if ql != nil {
		qn, qerr = ql.Counts()
		queryHist = reports.FromHistogram(ql.Histogram())
	}
	if fresh != nil {
		fn, fmissed = fresh.Counts()
		freshHist = reports.FromHistogram(fresh.Histogram())
	}
	ls := r.truth.Stats()
	rep := &reports.Report{
		Scenario:  sc.Name,
		StartedAt: start.UTC(),
		DurationS: sendDur.Seconds(),
		Config:    sc.ConfigMap(),
		Throughput: reports.Throughput{
			OfferedEventsPerS:  offeredEvents(sc) / sc.Duration.Seconds(), // overload faults included
			AchievedEventsPerS: float64(p.Acked) / sendDur.Seconds(),
		},
		Latency: reports.Latencies{
			IngestAck: reports.FromHistogram(snd.Histogram()),
			Freshness: freshHist,
			Query:     queryHist,
		},
		Accuracy: acc,
		Traffic: reports.Traffic{Generated: p.Generated, Acked: p.Acked, Rejected: p.Rejected, Failed: p.Failed, Resent: p.Resent, Throttled: p.Throttled,
			Errors: p.Errors, Duplicates: ls.Duplicates, MaxLagMS: float64(p.MaxLag.Microseconds()) / 1000,
			Queries: qn, QueryErrs: qerr, Tracers: fn, TracersMissed: fmissed},
		Faults:     faultRecords(faultRecs),
		Series:     measured.Series,
		Saturation: measured.Saturation,
		Resources:  measured.Resources,
		Provenance: r.provenance(),
		CPU:        measured.CPU,
	}
	slo := sc.SLO
	probe.PrintSaturationAndResources(r.out, rep, slo.MaxRSSSlopeMiBPerH > 0 || slo.MaxHarnessRSSSlopeMiBPerH > 0 || slo.MaxGoroutineSlopePerH > 0)
	probe.PrintCPU(r.out, rep.CPU)
	return rep, nil
}

// startDuring starts the During work beside the traffic (ctx: the
// traffic's); the returned wait ends it.
func (r *scenarioRun) startDuring(traffic context.Context, keyPrefix string) (wait func()) {
	if len(r.cfg.during) == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(traffic)
	live := &Live{Target: r.target, Truth: r.truth, KeyPrefix: keyPrefix, Abort: r.probes.AbortNow}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, d := range r.cfg.during {
		wg.Go(func() {
			if err := d(ctx, live); err != nil && ctx.Err() == nil {
				mu.Lock()
				r.duringErrs = append(r.duringErrs, err.Error())
				mu.Unlock()
			}
		})
	}
	return func() { cancel(); wg.Wait() }
}

// provenance is the report's provenance.
func (r *scenarioRun) provenance() *reports.Provenance {
	if r.cfg.provenance != nil {
		return r.cfg.provenance
	}
	p := reports.NewProvenance(os.Args)
	return &p
}

// startFaults starts the scenario's fault schedule (now: with the
// traffic) and returns the wait for its end: every fault healed and
// recovered (the target's consumer lag back under a bound), at most the
// drain timeout after the call, then the rest is healed at once.
func (r *scenarioRun) startFaults(ctx context.Context, log *slog.Logger) (wait func() []faults.Record, err error) {
	sc := r.sc
	if len(sc.Faults) == 0 {
		return func() []faults.Record { return nil }, nil
	}
	tg := r.target
	if tg.Controls == nil {
		return nil, harness.Configf("scenario %s has faults, but %s has no controls for them to act on", sc.Name, tg.Name)
	}
	rate := sc.OfferedEvents() / sc.Duration.Seconds()
	bound := max(200, int64(rate/2))
	recovered := func(context.Context) bool { return true }
	if tg.Recovered != nil {
		recovered = func(ctx context.Context) bool { return tg.Recovered(ctx, bound) }
	}
	sch := &faults.Schedule{Specs: sc.Faults, Target: r.faultTarget(), Recovered: recovered, Logger: log.With("part", "faults"),
		SteadyState: r.probes.SteadyState}
	for _, f := range sc.Faults {
		fmt.Fprintf(r.out, "  fault %s %s at %s for %s\n", f.Kind, f.Name, f.Start, f.Duration)
	}
	schedCtx, stop := context.WithCancel(ctx)
	done := make(chan []faults.Record, 1)
	go func() { done <- sch.Run(schedCtx) }()
	return func() []faults.Record {
		defer stop()
		var recs []faults.Record
		t := time.NewTimer(max(sc.DrainTimeout, time.Minute))
		defer t.Stop()
		select {
		case recs = <-done:
		case <-t.C:
			stop()
			recs = <-done
		}
		for _, rec := range recs {
			switch {
			case rec.Error != "":
				r.faultErrs = append(r.faultErrs, fmt.Sprintf("fault %s: %s", rec.Name, rec.Error))
				fmt.Fprintf(r.out, "  fault %s (%s): %s\n", rec.Name, rec.Kind, rec.Error)
			case rec.RecoveryS < 0:
				fmt.Fprintf(r.out, "  fault %s (%s): injected %s, healed %s, not recovered\n", rec.Name, rec.Kind,
					rec.InjectedAt.Format(time.TimeOnly), rec.HealedAt.Format(time.TimeOnly))
			default:
				hits := ""
				if rec.Hits > 0 {
					hits = fmt.Sprintf(" (%d requests failed)", rec.Hits)
					if rec.Kind == "overload" {
						hits = fmt.Sprintf(" (%d event sends refused with 429)", rec.Hits)
					}
				}
				fmt.Fprintf(r.out, "  fault %s (%s): injected %s, healed %s (the heal took %.1fs)%s, recovered %.1fs after the heal\n", rec.Name, rec.Kind,
					rec.InjectedAt.Format(time.TimeOnly), rec.HealedAt.Format(time.TimeOnly), rec.HealS, hits, rec.RecoveryS)
			}
		}
		return recs
	}, nil
}

// reconcileAndCheck runs a reconcile over the truth's windows and checks
// again, late events expected.
func (r *scenarioRun) reconcileAndCheck(ctx context.Context, keyPrefix string, onTime reports.Accuracy, prog *progressLine) (reports.Accuracy, error) {
	from, to := r.truth.Range()
	fmt.Fprintf(r.out, "  on-time check: exact=%v (%d late events not counted, as the late policy says); reconciling %s..%s...\n",
		onTime.Exact, onTime.LateEvents, from.Format(time.TimeOnly), to.Format(time.TimeOnly))
	t0 := time.Now()
	res, err := r.target.Reconcile(ctx, from, to)
	if err != nil {
		return onTime, fmt.Errorf("reconcile: %w", err)
	}
	rc := &reports.ReconcileCheck{OnTimeExact: onTime.Exact, OnTimeMismatched: onTime.MismatchedWindows,
		EventsRecounted: res.EventsCounted, WindowsRewritten: res.WindowsRewritten, WindowsSkippedOpen: res.WindowsSkippedOpen,
		DurationS: time.Since(t0).Seconds()}
	fmt.Fprintf(r.out, "  reconcile: %d events recounted, %d windows rewritten in %.1fs; checking with the late events...\n",
		res.EventsCounted, res.WindowsRewritten, rc.DurationS)
	acc, err := reports.Check(ctx, r.truth, r.target.Query, reports.CheckConfig{
		IncludeLate: true,
		Store:       r.target.Store,
		StoreByKey:  r.target.StoreByKey,
		KeyPrefix:   keyPrefix,
		Retention:   r.target.Retention,
		Drain:       r.sc.DrainTimeout,
		Progress: func(off, total int) {
			prog.set(func() string {
				return fmt.Sprintf("after reconcile: %d of %d windows not yet equal to the truth", off, total)
			})
		},
	})
	if err != nil {
		return onTime, fmt.Errorf("accuracy check after reconcile: %w", err)
	}
	acc.Reconcile = rc
	acc.Exact = acc.Exact && onTime.Exact
	return acc, nil
}

// RateText describes the scenario's rate shape.
func RateText(sc *scenarios.Scenario) string {
	r := sc.Traffic.Rate
	switch r.Shape {
	case "ramp":
		return fmt.Sprintf("ramp %.0f -> %.0f events/s over %s", r.EventsPerS, r.ToEventsPerS, r.Over)
	case "spike":
		return fmt.Sprintf("%.0f events/s, spike to %.0f at %s for %s", r.EventsPerS, r.PeakEventsPerS, r.At, r.For)
	case "diurnal":
		return fmt.Sprintf("diurnal %.0f events/s ±%.0f%%", r.EventsPerS, 100*r.Amplitude)
	}
	return fmt.Sprintf("%.0f events/s (%s)", r.EventsPerS, sc.Traffic.Arrival)
}
