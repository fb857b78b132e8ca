package main

import (
	"context"
	"errors"
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

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/engine/reconcile"
	"github.com/countlab/countlab/faults"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/oracle"
)

// runTestHook, when set (by tests only), may change the loaded scenario
// before it runs (e.g. shorten it).
var runTestHook func(*scenarios.Scenario)

// plantBugFlag is the hidden --plant-bug=N flag of run: it adds an engine
// worker with aggregate.PlantBug(N) to the consumer group, so that the
// checker's detection of a bad window can be shown. Never for real runs.
const plantBugFlag = "plant-bug"

// atLeastOnceFlag is the hidden --at-least-once-UNSAFE flag of run, TEST
// ONLY: every engine worker runs with aggregate.AtLeastOnce (no
// transactions, no dedup restore), so that a worker crash double counts
// and the checker's detection of duplicates can be shown. Never for real
// runs.
const atLeastOnceFlag = "at-least-once-UNSAFE"

// cmdRun runs a scenario against the embedded stack (or the cluster and
// InfluxDB given by the stack flags), checks every window against the
// truth (sim/oracle), as served and as stored, and writes report.json, report.md and report.html.
func cmdRun(ctx context.Context, args []string) error {
	allArgs := args // --repeat runs each run with these (repeat.go)
	args, plantBug, err := takeHiddenInt(args, plantBugFlag)
	if err != nil {
		return err
	}
	args, atLeastOnce, err := takeHiddenBool(args, atLeastOnceFlag)
	if err != nil {
		return err
	}
	args, plant, err := takePlantedRegressions(args) // gate.go
	if err != nil {
		return err
	}
	fs := newFlagSet("run")
	var sf stackFlags
	sf.register(fs, false)
	var cf chaosFlags // --allow-chaos, --delete-topics, --fault-seed (staging.go)
	cf.register(fs)
	reportDir := fs.String("report-dir", "", "write report.json, report.md, report.html and "+truthFile+" here (default reports/out/SCENARIO-<UTC time>)")
	var baseline listFlag
	fs.Var(&baseline, "baseline", "gate against these earlier runs: report.json files, run directories or a --repeat directory (repeat the flag or separate with commas); a metric whose runs rank worse beyond its minimum effect fails the run (README: CI regression gate)")
	repeat := fs.Int("repeat", 1, "run the scenario N times, each its own report in --report-dir/run-I, then gate the N runs together against --baseline (summary.json)")
	duration := fs.Duration("duration", 0, "override the scenario's duration")
	name, err := parseWithPositional(fs, args, "SCENARIO")
	if err != nil {
		return err
	}
	sc, err := scenarios.Lookup(name)
	if err != nil {
		return usageError{err}
	}
	if *duration > 0 {
		sc.Duration = *duration
	}
	if runTestHook != nil {
		runTestHook(sc)
	}
	plant.apply(sc)
	if err := cf.prepare(sc); err != nil { // random_faults drawn (staging.go)
		return err
	}
	if err := sc.Validate(); err != nil {
		return usageError{err}
	}
	applyScenarioEngine(fs, &sf, sc)
	if needsEngineProcs(sc) || sc.Engine.Processes {
		// worker-crash and worker-pause SIGKILL and SIGSTOP processes.
		sf.engineProcs = true
	}
	if err := applyFaultStack(&sf, sc); err != nil { // broker-crash: the broker as a process (brokerproc.go)
		return err
	}
	if needsNetProxies(sc) {
		sf.netProxies = true // network faults act on proxies (netproxy.go)
	}
	sf.atLeastOnce = atLeastOnce
	if err := cf.applyStaging(&sf, fs, sc); err != nil { // external targets (staging.go)
		return err
	}
	if err := sf.validate(); err != nil {
		return err
	}
	plant.applyStack(&sf)
	if *repeat < 1 {
		return usagef("--repeat: want 1 or more runs (got %d)", *repeat)
	}
	base, err := loadBaselines(baseline, sc) // gate.go
	if err != nil {
		return err
	}
	dir := *reportDir
	if dir == "" {
		dir = filepath.Join("reports", "out", sc.Name+"-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	if *repeat > 1 {
		return runRepeat(ctx, allArgs, *repeat, dir, base) // repeat.go
	}
	r := &scenarioRun{sc: sc, sf: &sf, out: os.Stdout, errw: os.Stderr, plantBug: plantBug}
	defer func() {
		if err := cf.cleanup(ctx, &sf, r.out); err != nil {
			fmt.Fprintf(r.errw, "countlab run: %v\n", err)
		}
	}()
	rep, err := r.run(ctx)
	if err != nil {
		return err
	}
	rep.EvaluateSLO(reports.Thresholds{
		MinThroughputEventsPerS: sc.SLO.MinThroughputEventsPerS,
		MaxP99IngestAckMS:       sc.SLO.MaxP99IngestAckMS,
		MaxP99FreshnessMS:       sc.SLO.MaxP99FreshnessMS,
		MaxP99QueryMS:           sc.SLO.MaxP99QueryMS,
		AccuracyExact:           sc.SLO.AccuracyExact,
		// soak: resource growth (resources.go)
		MaxRSSSlopeMiBPerH:        sc.SLO.MaxRSSSlopeMiBPerH,
		MaxHarnessRSSSlopeMiBPerH: sc.SLO.MaxHarnessRSSSlopeMiBPerH,
		MaxHarnessRSSMiB:          sc.SLO.MaxHarnessRSSMiB,
		MaxGoroutineSlopePerH:     sc.SLO.MaxGoroutineSlopePerH,
	})
	r.finishProbes(rep) // abort, steady state, phase SLOs (probes.go)
	if err := rep.WriteFiles(dir); err != nil {
		return err
	}
	if base != nil {
		if err := gateReport(rep, dir, base); err != nil {
			return err
		}
	}
	if rollingOn(sc) {
		fmt.Fprintf(r.out, "  no %s: the rolling check dropped the truth of the windows it checked\n", truthFile)
	} else if err := r.truth.Save(filepath.Join(dir, truthFile)); err != nil {
		return err
	}
	rep.WriteSummary(r.out, filepath.Join(dir, "report.json"))
	if !rep.Pass || len(r.faultErrs) > 0 {
		var why []string
		if a := rep.Aborted; a != nil {
			why = append(why, fmt.Sprintf("aborted at %.0fs: %s", a.AtS, a.Reason))
		}
		why = append(why, rep.Failed()...)
		why = append(why, r.faultErrs...)
		if rep.Baseline != nil {
			for _, m := range rep.Baseline.Regressed {
				why = append(why, "regressed "+m)
			}
		}
		return exitError{1, fmt.Errorf("scenario %s failed: %s", sc.Name, strings.Join(why, "; "))}
	}
	return nil
}

// scenarioRun is one run of a scenario.
type scenarioRun struct {
	sc       *scenarios.Scenario
	sf       *stackFlags
	out      io.Writer
	errw     io.Writer
	plantBug int

	truth     *oracle.Oracle // every sent event and its outcome
	traffic   *trafficCtl    // what overload and clock faults act on (overload.go)
	faultErrs []string       // faults that could not be injected or healed
	mon       *monitor       // live probes: abort, steady state (monitor.go)
	faultRecs []faults.Record
}

func (r *scenarioRun) run(ctx context.Context) (*reports.Report, error) {
	sc := r.sc
	log := r.sf.logger(r.errw)
	fmt.Fprintf(r.out, "countlab run %s: %s\n", sc.Name, sc.Description)
	t0 := time.Now()
	st, err := startStack(ctx, r.sf, log)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	labelStage(reports.StageHarness) // the CPU profile's stage of what the run starts from here (cpu.go)
	defer unlabelStage()
	fmt.Fprintf(r.out, "  stack up in %.1fs: broker %s, influxdb %s, gateway http://%s, query http://%s\n  metrics http://%s/metrics\n",
		time.Since(t0).Seconds(), st.conn.String(), st.influx.URL, st.gwAddr, st.qAddr, st.metricsAddr)
	if st.net != nil {
		fmt.Fprintf(r.out, "  network proxies: %s\n", st.net)
	}
	if r.sf.atLeastOnce {
		fmt.Fprintln(r.out, "  at-least-once (UNSAFE): engine workers run without transactions or dedup restore (testing only)")
	}
	if r.plantBug > 0 {
		// Stopped before the stack closes (defers run last-in first-out):
		// Close waits for it.
		bugCtx, stopBug := context.WithCancel(ctx)
		defer stopBug()
		if err := r.addBuggyWorker(bugCtx, st); err != nil {
			return nil, err
		}
	}

	token, _ := gatewayTokenFromEnv()
	if r.truth, err = newRunTruth(sc, st.windows, r.sf); err != nil { // rolling.go
		return nil, err
	}
	mon, closeMon := newMonitor(ctx, sc, st, log)
	defer closeMon()
	r.mon = mon
	start := time.Now()
	runID := "r" + strconv.FormatInt(start.UnixMilli(), 36) + "-"
	gcfg, err := sc.GeneratorConfig(runID, start)
	if err != nil {
		return nil, usageError{err}
	}
	if r.sf.brokers != "" || r.sf.influxURL != "" || r.sf.dataDir != "" {
		// A cluster, InfluxDB or data dir shared with earlier runs may
		// hold totals of the same keys in the same windows: give this
		// run's keys their own prefix.
		gcfg.KeyPrefix = runID + gcfg.KeyPrefix
		sc.Traffic.Keys.Prefix = gcfg.KeyPrefix
	}
	gen, err := sim.NewGenerator(gcfg)
	if err != nil {
		return nil, usageError{err}
	}
	tr, closeTr, err := trafficTransport(st, sc, token) // routes.go
	if err != nil {
		return nil, err
	}
	defer closeTr()
	sat := r.newSaturation(st, log) // saturation.go: which stage saturated first
	tr = sat.wrap(tr)
	qc, err := client.New("http://"+st.qAddr, client.Token(token))
	if err != nil {
		return nil, err
	}
	probeCtx, stopProbes := context.WithCancel(ctx)
	defer stopProbes()
	fresh := &reports.Freshness{Client: qc, Window: st.windows[0], Timeout: max(sc.DrainTimeout, 10*time.Second)}
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
		Truth:       truthOf(r.truth, sc.Traffic.Via == "kafka"),
		OnAck: func(it *sim.Item, now time.Time) {
			mon.onAck(start.Add(it.At), now)
			if it.Tracer {
				fresh.Track(probeCtx, it.Event.Key, it.Event.Type, it.Event.Time(), start.Add(it.At))
			}
		},
	})
	if err != nil {
		return nil, usageError{err}
	}
	r.traffic.setSender(snd)
	keyPick := func(rng *rand.Rand) (string, string) {
		return sc.Traffic.Keys.Prefix + strconv.Itoa(rng.IntN(min(sc.Traffic.Keys.Count, 100))), firstType
	}
	ql := &reports.QueryLoad{Client: qc, Rate: sc.Probes.QueriesPerS, Pick: keyPick, Window: st.windows[0]}
	qctx, stopQueries := context.WithCancel(probeCtx)
	defer stopQueries()
	var qwg sync.WaitGroup
	qwg.Add(1)
	go func() { defer qwg.Done(); ql.Run(qctx) }()

	fmt.Fprintf(r.out, "  sending for %s: %s, %d keys (%s), via %s (%s)...\n", sc.Duration, rateText(sc), sc.Traffic.Keys.Count,
		sc.Traffic.Keys.Distribution, sc.Traffic.Via, sc.Traffic.Format)
	waitFaults, err := r.startFaults(mon.traffic, st, log) // an abort heals the faults
	if err != nil {
		return nil, err
	}
	prog := newProgressLine(r.errw)
	progDone := make(chan struct{})
	go func() {
		defer close(progDone)
		prog.loop(probeCtx, func() string {
			p := snd.Progress()
			return fmt.Sprintf("%s | %s | %s elapsed, %s left", p, st.pipelineCounts(), p.Elapsed.Round(time.Second), max(sc.Duration-p.Elapsed, 0).Round(time.Second))
		})
	}()
	stopSeries := r.startSeries(probeCtx, mon.lag, snd, ql, log) // one lag reader: the monitor's
	stopSat := sat.start(probeCtx, snd)
	stopRes := r.startResources(probeCtx, st, log) // resources.go: memory and goroutines
	stopCPU := startCPU(probeCtx, st, snd, log)    // cpu.go: CPU per process and stage
	stopMon := mon.start(start, snd)
	stopRoll := r.startRolling(probeCtx, st, qc, gen, snd, start, gcfg.KeyPrefix) // rolling.go
	sendErr := snd.Run(mon.traffic)                                               // an abort stops the traffic
	rolled := stopRoll()
	stopMon()
	sendDur := time.Since(start)
	series := stopSeries()
	saturation := stopSat()
	resources, rssSeries, goroutineSeries := stopRes()
	cpu := stopCPU()
	if series != nil {
		series.RSS, series.Goroutines = rssSeries, goroutineSeries
	}
	stopQueries() // the query load runs with the traffic
	qwg.Wait()
	faultRecs := waitFaults()
	r.faultRecs = faultRecs
	saturation.MarkFault(start, time.Now(), faultWindows(faultRecs))
	p := snd.Progress()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err := st.firstErr(); err != nil {
		return nil, fmt.Errorf("the stack failed during the run: %w", err)
	}
	if sendErr != nil {
		fmt.Fprintf(r.errw, "countlab run: transport error (the run went on): %v\n", sendErr)
	}
	if p.Acked == 0 {
		return nil, fmt.Errorf("no event was acknowledged in %s (first transport error: %v): nothing to check", sendDur.Round(time.Millisecond), sendErr)
	}

	// Drain: wait until the query service shows every expected total.
	fmt.Fprintf(r.out, "  sent: %d acknowledged, %d rejected, %d failed, %d throttled (429, re-sent); draining (up to %s)...\n", p.Acked, p.Rejected, p.Failed, p.Throttled, sc.DrainTimeout)
	drainStart := time.Now()
	prog.set(func() string { return "draining..." })
	store := reports.NewInfluxStore(st.influx.URL, st.influx.Org, st.influx.Bucket, st.influx.Token)
	defer store.Close()
	acc, err := reports.Check(ctx, r.truth, qc, reports.CheckConfig{
		Drain:     r.drainTimeout(), // shorter after an abort (probes.go)
		Store:     store,
		KeyPrefix: gcfg.KeyPrefix,
		Rolling:   rolled,
		Progress: func(off, total int) {
			prog.set(func() string {
				return fmt.Sprintf("draining: %d of %d windows not yet equal to the truth (%s)", off, total, time.Since(drainStart).Round(time.Second))
			})
		},
	})
	fresh.Wait()
	if fs, ok := fresh.Series(); ok {
		series.Latency = append(series.Latency, fs)
	}
	stopProbes()
	<-progDone
	prog.clear()
	if err != nil {
		return nil, fmt.Errorf("accuracy check: %w", err)
	}
	if ls := r.truth.Stats(); ls.Late > 0 && err == nil {
		// Late events: the check above is the engine's late policy (not
		// counted); a reconcile recounts them from Kafka, then every
		// window must equal the truth of all distinct events.
		acc, err = r.reconcileAndCheck(ctx, st, qc, store, gcfg.KeyPrefix, acc, prog)
		if err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(r.out, "  checked %d windows in %.1fs after the traffic\n", acc.WindowsChecked, time.Since(drainStart).Seconds())

	qn, qerr := ql.Counts()
	fn, fmissed := fresh.Counts()
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
			Freshness: reports.FromHistogram(fresh.Histogram()),
			Query:     reports.FromHistogram(ql.Histogram()),
		},
		Accuracy: acc,
		Traffic: reports.Traffic{Generated: p.Generated, Acked: p.Acked, Rejected: p.Rejected, Failed: p.Failed, Resent: p.Resent, Throttled: p.Throttled,
			Errors: p.Errors, Duplicates: ls.Duplicates, MaxLagMS: float64(p.MaxLag.Microseconds()) / 1000,
			Queries: qn, QueryErrs: qerr, Tracers: fn, TracersMissed: fmissed},
		Faults:     faultRecords(faultRecs),
		Series:     series,
		Saturation: saturation,
		Resources:  resources,
		Provenance: provenance(),
		CPU:        cpu,
	}
	slo := sc.SLO
	printSaturationAndResources(r.out, rep, slo.MaxRSSSlopeMiBPerH > 0 || slo.MaxHarnessRSSSlopeMiBPerH > 0 || slo.MaxGoroutineSlopePerH > 0)
	printCPU(r.out, rep.CPU)
	return rep, nil
}

// startFaults starts the scenario's fault schedule (now: with the
// traffic) and returns the wait for its end: every fault healed and
// recovered (the engine's and the sink's consumer lag back under a bound),
// at most the drain timeout after the call, then the rest is healed at
// once.
func (r *scenarioRun) startFaults(ctx context.Context, st *stack, log *slog.Logger) (wait func() []faults.Record, err error) {
	sc := r.sc
	if len(sc.Faults) == 0 {
		return func() []faults.Record { return nil }, nil
	}
	rate := sc.OfferedEvents() / sc.Duration.Seconds()
	probe, err := newLagProbe(st, max(200, int64(rate/2)))
	if err != nil {
		return nil, err
	}
	sch := &faults.Schedule{Specs: sc.Faults, Target: r.faultTarget(st), Recovered: probe.Recovered, Logger: log.With("part", "faults"),
		SteadyState: r.mon.steadyState}
	for _, f := range sc.Faults {
		fmt.Fprintf(r.out, "  fault %s %s at %s for %s\n", f.Kind, f.Name, f.Start, f.Duration)
	}
	schedCtx, stop := context.WithCancel(ctx)
	done := make(chan []faults.Record, 1)
	go func() { done <- sch.Run(schedCtx) }()
	return func() []faults.Record {
		defer probe.Close()
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
func (r *scenarioRun) reconcileAndCheck(ctx context.Context, st *stack, qc *client.Client, store reports.Store, keyPrefix string, onTime reports.Accuracy, prog *progressLine) (reports.Accuracy, error) {
	from, to := r.truth.Range()
	fmt.Fprintf(r.out, "  on-time check: exact=%v (%d late events not counted, as the late policy says); reconciling %s..%s...\n",
		onTime.Exact, onTime.LateEvents, from.Format(time.TimeOnly), to.Format(time.TimeOnly))
	t0 := time.Now()
	res, err := reconcile.Run(ctx, reconcile.Config{
		Kafka:            st.conn,
		Topics:           st.topics,
		Influx:           st.influx,
		From:             from,
		To:               to,
		Windows:          st.windows,
		Lateness:         r.sf.lateness,
		OutOfOrderness:   r.sf.outOfOrder,
		NoLateness:       r.sf.lateness == 0,
		NoOutOfOrderness: r.sf.outOfOrder == 0,
		Idle:             2 * time.Second,
		Logger:           st.log, // reconcile adds part=reconcile itself
	})
	if err != nil {
		return onTime, fmt.Errorf("reconcile: %w", err)
	}
	rc := &reports.ReconcileCheck{OnTimeExact: onTime.Exact, OnTimeMismatched: onTime.MismatchedWindows,
		EventsRecounted: res.EventsCounted, WindowsRewritten: res.WindowsRewritten, WindowsSkippedOpen: res.WindowsSkippedOpen,
		DurationS: time.Since(t0).Seconds()}
	fmt.Fprintf(r.out, "  reconcile: %d events recounted, %d windows rewritten in %.1fs; checking with the late events...\n",
		res.EventsCounted, res.WindowsRewritten, rc.DurationS)
	acc, err := reports.Check(ctx, r.truth, qc, reports.CheckConfig{
		IncludeLate: true,
		Store:       store,
		KeyPrefix:   keyPrefix,
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

// addBuggyWorker joins a worker with aggregate.PlantBug to the engine's
// consumer group: it takes over some partitions and mis-counts 1 event in
// N of them.
func (r *scenarioRun) addBuggyWorker(ctx context.Context, st *stack) error {
	w, err := aggregate.New(
		aggregate.Conn(st.conn),
		aggregate.Topics(st.topics),
		aggregate.TopicPrefix(r.sf.topicPrefix),
		aggregate.TransactionalID(fmt.Sprintf("countlab-engine-%d-planted-bug", os.Getpid())),
		aggregate.Windows(st.windows...),
		aggregate.AllowedLateness(r.sf.lateness),
		aggregate.OutOfOrderness(r.sf.outOfOrder),
		aggregate.CommitInterval(r.sf.commitEvery),
		aggregate.Logger(st.log.With("part", "engine", "worker", "planted-bug")),
		aggregate.PlantBug(r.plantBug),
	)
	if err != nil {
		return err
	}
	st.goRun("engine", w.Run, ctx)
	select {
	case <-w.Ready():
	case <-time.After(60 * time.Second):
		return errors.New("the planted-bug worker did not become ready within 60s")
	}
	fmt.Fprintf(r.out, "  planted bug: a worker mis-counting 1 event in %d joined the engine (testing only)\n", r.plantBug)
	return nil
}

// indentLines prefixes every line of text with pre.
func indentLines(text, pre string) string {
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pre + l
		}
	}
	return strings.Join(lines, "")
}

func rateText(sc *scenarios.Scenario) string {
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
