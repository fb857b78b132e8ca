package main

// Runs against a target file (`countlab run SCENARIO --target FILE`): the
// system under test is described by harness/target (any pipeline: its
// ingest, its read side, its nodes' commands), nothing is started, and
// every fault and probe is matched against what the target offers before
// the run. Also the same match for the embedded and external stack
// (checkStackFaults), and a report that fails when a fault could not be
// injected (failOnFaultErrors).

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"

	"github.com/countlab/countlab/faults"
	"github.com/countlab/countlab/harness/target"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/oracle"
)

// targetFlagUsage is run's --target flag.
const targetFlagUsage = "run against the system under test this target file describes (README: Test your own pipeline) instead of the embedded stack; nothing is started"

// runCapabilities are what every run offers faults itself: its own
// traffic sender and event generator.
var runCapabilities = faults.Capabilities{faults.CapTrafficSender: true, faults.CapEventClock: true}

// stackCapabilities are what the embedded stack (or the cluster and
// InfluxDB of the stack flags) offers faults, once the run's flags are
// set from the scenario.
func stackCapabilities(sf *stackFlags) faults.Capabilities {
	c := faults.Capabilities{
		faults.CapWorkerControl:  sf.engineProcs,
		faults.CapWorkerPause:    sf.engineProcs,
		faults.CapWorkerScaling:  sf.engineProcs,
		faults.CapBrokerFaultAPI: sf.brokers == "" && !sf.brokerProc,
		faults.CapBrokerProcess:  sf.brokerProc,
		faults.CapSinkProcess:    sf.influxURL == "",
		faults.CapNetworkProxies: sf.netProxies,
		faults.CapSinkHTTPProxy:  sf.netProxies,
		faults.CapReconcile:      true,
		faults.CapQueryAPI:       true,
		faults.CapRecoveryProbe:  true,
	}
	for k, v := range runCapabilities {
		c[k] = v
	}
	return c
}

// checkStackFaults refuses, before the run, a fault the stack cannot
// serve (broker-errors on an external cluster: it has no fault API).
func checkStackFaults(sf *stackFlags, sc *scenarios.Scenario) error {
	name := "the embedded stack"
	switch {
	case sf.brokers != "" && sf.influxURL != "":
		name = "the stack on the Kafka cluster at " + sf.brokers + " and the InfluxDB at " + sf.influxURL
	case sf.brokers != "":
		name = "the stack on the Kafka cluster at " + sf.brokers + " (--brokers)"
	case sf.influxURL != "":
		name = "the stack on the InfluxDB at " + sf.influxURL + " (--influx-url)"
	}
	err := faults.Check(sc.Faults, stackCapabilities(sf), name, func(c faults.Capability) string {
		switch c {
		case faults.CapBrokerFaultAPI:
			return "run it against the embedded broker (no --brokers); an external cluster has no request fault API"
		case faults.CapBrokerProcess:
			return "run it against the embedded broker (no --brokers: the run starts it as a process), or describe your broker as a node of a target file (--target)"
		case faults.CapSinkProcess:
			return "run it against the managed InfluxDB (no --influx-url), or describe it as a store node of a target file (--target)"
		}
		return ""
	})
	if err != nil {
		return usageError{err}
	}
	return nil
}

// failOnFaultErrors fails the report of a run in which a fault could not
// be injected or healed: the run did not test what it says.
func failOnFaultErrors(rep *reports.Report, faultErrs []string) {
	if len(faultErrs) > 0 {
		rep.Pass = false
	}
}

// sloProbes are the probes the scenario's SLOs need (the others are
// measured when the target can serve them, and skipped otherwise).
func sloProbes(sc *scenarios.Scenario) []target.Probe {
	var out []target.Probe
	if sc.SLO.MaxP99FreshnessMS > 0 {
		out = append(out, target.ProbeFreshness)
	}
	if sc.SLO.MaxP99QueryMS > 0 {
		out = append(out, target.ProbeQueryLoad)
	}
	return out
}

// loadTarget loads the target file and matches the scenario against it:
// every error is a usage error (exit 2) naming the field, the fault or
// the probe.
func loadTarget(path string, sc *scenarios.Scenario) (*target.Target, error) {
	t, err := target.Load(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("--target: %w", err)}
	}
	if sc.Traffic.Hostile.Fraction > 0 && (t.Spec.Ingest.HTTP == nil || t.Spec.Ingest.HTTP.Response != "countlab") {
		return nil, usagef("scenario %s: traffic.hostile needs an ingest that answers per event with the contract's reason codes (ingest.http with response: countlab)", sc.Name)
	}
	if len(sc.Abort) > 0 || sc.SteadyState != nil || len(sc.PhaseSLO) > 0 {
		return nil, usagef("scenario %s: abort, steady_state and phase_slo read the reference engine's metrics, which target %s does not serve; use a scenario without them", sc.Name, t.Spec.Name)
	}
	if err := t.Check(sc.Faults, sloProbes(sc), runCapabilities); err != nil {
		return nil, usageError{err}
	}
	return t, nil
}

// targetRun is one run of a scenario against a target.
type targetRun struct {
	sc         *scenarios.Scenario
	t          *target.Target
	out, errw  io.Writer
	truth      *oracle.Oracle
	faultErrs  []string
	keyPrefix  string
	traffic    *trafficCtl
	faultsDone func() []faults.Record
}

// cmdRunTarget is `countlab run SCENARIO --target FILE`: run's other
// flags that mean the embedded stack are not for it.
func cmdRunTarget(ctx context.Context, sc *scenarios.Scenario, path, reportDir string, repeat int, baseline []string) error {
	if repeat != 1 || len(baseline) > 0 {
		return usagef("--target: --repeat and --baseline are not supported with a target yet")
	}
	if reportDir == "" {
		reportDir = filepath.Join("reports", "out", sc.Name+"-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	return runOnTarget(ctx, sc, path, reportDir, os.Stdout, os.Stderr)
}

// runOnTarget runs sc against the target file path, writes the report
// into dir and returns exit 1 when it failed.
func runOnTarget(ctx context.Context, sc *scenarios.Scenario, path, dir string, out, errw io.Writer) error {
	t, err := loadTarget(path, sc)
	if err != nil {
		return err
	}
	defer t.Close()
	r := &targetRun{sc: sc, t: t, out: out, errw: errw}
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
	})
	failOnFaultErrors(rep, r.faultErrs)
	if err := rep.WriteFiles(dir); err != nil {
		return err
	}
	if err := r.truth.Save(filepath.Join(dir, truthFile)); err != nil {
		return err
	}
	rep.WriteSummary(out, filepath.Join(dir, "report.json"))
	writeMiscounted(out, &rep.Accuracy)
	if !rep.Pass {
		why := append(rep.Failed(), r.faultErrs...)
		return exitError{1, fmt.Errorf("scenario %s failed against target %s: %s", sc.Name, t.Spec.Name, strings.Join(why, "; "))}
	}
	return nil
}

// writeMiscounted says how many windows count too many and too few
// events (the worst are named above it, every one in report.json).
func writeMiscounted(w io.Writer, a *reports.Accuracy) {
	for _, s := range a.Sources() {
		if s.DuplicatedWindows > 0 {
			fmt.Fprintf(w, "  DOUBLE COUNTED (%s): %d windows count %d events too many\n", s.Name, s.DuplicatedWindows, s.Duplicated)
		}
		if s.LostWindows > 0 {
			fmt.Fprintf(w, "  LOST (%s): %d windows count %d events too few\n", s.Name, s.LostWindows, s.Lost)
		}
	}
}

func (r *targetRun) run(ctx context.Context) (*reports.Report, error) {
	sc, t, sem := r.sc, r.t, r.t.Spec.Semantics
	fmt.Fprintf(r.out, "countlab run %s --target %s: %s\n", sc.Name, t.Spec.Name, sc.Description)
	fmt.Fprintf(r.out, "  the target's semantics replace the scenario's engine section: windows %s, allowed lateness %s, out-of-orderness %s\n",
		durations(sem.Windows), sem.AllowedLateness, sem.OutOfOrderness)
	if err := t.StartLinks(ctx); err != nil { // the pipeline reaches its upstreams through them
		return nil, usagef("target %s: %v", t.Spec.Name, err)
	}
	if err := t.Healthy(ctx); err != nil {
		return nil, usagef("target %s is not healthy before the run: %v", t.Spec.Name, err)
	}
	var err error
	r.truth, err = oracle.New(t.OracleConfig())
	if err != nil {
		return nil, usageError{err}
	}
	start := time.Now()
	runID := "r" + strconv.FormatInt(start.UnixMilli(), 36) + "-"
	gcfg, err := sc.GeneratorConfig(runID, start)
	if err != nil {
		return nil, usageError{err}
	}
	gcfg.KeyPrefix = sem.KeyPrefix + runID + gcfg.KeyPrefix
	sc.Traffic.Keys.Prefix = gcfg.KeyPrefix
	r.keyPrefix = gcfg.KeyPrefix
	gen, err := sim.NewGenerator(gcfg)
	if err != nil {
		return nil, usageError{err}
	}
	tr, err := t.Transport(sc.Traffic.Connections)
	if err != nil {
		return nil, usageError{fmt.Errorf("--target: %w", err)}
	}
	qc, err := t.QueryClient()
	if err != nil {
		return nil, usageError{fmt.Errorf("--target: %w", err)}
	}
	probeCtx, stopProbes := context.WithCancel(ctx)
	defer stopProbes()
	var fresh *reports.Freshness
	var ql *reports.QueryLoad
	if qc != nil {
		fresh = &reports.Freshness{Client: qc, Window: sem.Windows[0], Timeout: max(sc.DrainTimeout, 10*time.Second)}
		firstType := sc.Traffic.Types[0].Name
		ql = &reports.QueryLoad{Client: qc, Rate: sc.Probes.QueriesPerS, Window: sem.Windows[0], Pick: func(rng *rand.Rand) (string, string) {
			return gcfg.KeyPrefix + strconv.Itoa(rng.IntN(min(sc.Traffic.Keys.Count, 100))), firstType
		}}
	} else {
		fmt.Fprintf(r.out, "  freshness and query latency not measured: target %s has no read.query_api\n", t.Spec.Name)
	}
	r.traffic = &trafficCtl{gen: gen, sched: sc.Schedule()}
	snd, err := sim.NewSender(sim.SenderConfig{
		Generator: gen, Schedule: r.traffic.sched, Duration: sc.Duration, Transport: tr,
		Connections: sc.Traffic.Connections, BatchMax: sc.Traffic.Batch.MaxEvents, FlushEvery: sc.Traffic.Batch.Flush,
		TracerEvery: sc.Probes.TracerEvery,
		Truth:       truthOf(r.truth, t.Spec.Ingest.Kafka != nil),
		OnAck: func(it *sim.Item, _ time.Time) {
			if it.Tracer && fresh != nil {
				fresh.Track(probeCtx, it.Event.Key, it.Event.Type, it.Event.Time(), start.Add(it.At))
			}
		},
	})
	if err != nil {
		return nil, usageError{err}
	}
	r.traffic.setSender(snd)
	var qwg sync.WaitGroup
	if ql != nil {
		qwg.Add(1)
		go func() { defer qwg.Done(); ql.Run(probeCtx) }()
	}
	fmt.Fprintf(r.out, "  sending for %s: %s, %d keys (%s), to %s...\n", sc.Duration, rateText(sc), sc.Traffic.Keys.Count, sc.Traffic.Keys.Distribution, ingestText(t))
	if err := r.startFaults(ctx); err != nil {
		return nil, err
	}
	sendErr := snd.Run(ctx)
	sendDur := time.Since(start)
	faultRecs := r.faultsDone()
	p := snd.Progress()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if sendErr != nil {
		fmt.Fprintf(r.errw, "countlab run: transport error (the run went on): %v\n", sendErr)
	}
	if p.Acked == 0 {
		return nil, fmt.Errorf("no event was acknowledged by target %s in %s (first transport error: %v): nothing to check", t.Spec.Name, sendDur.Round(time.Millisecond), sendErr)
	}
	fmt.Fprintf(r.out, "  sent: %d acknowledged, %d rejected, %d failed, %d throttled; draining (up to %s)...\n", p.Acked, p.Rejected, p.Failed, p.Throttled, sc.DrainTimeout)
	drainStart := time.Now()
	acc, err := r.check(ctx)
	if fresh != nil {
		fresh.Wait()
	}
	stopProbes()
	qwg.Wait()
	if err != nil {
		return nil, fmt.Errorf("accuracy check: %w", err)
	}
	fmt.Fprintf(r.out, "  checked %d windows in %.1fs after the traffic\n", acc.WindowsChecked, time.Since(drainStart).Seconds())
	ls := r.truth.Stats()
	cfg := sc.ConfigMap()
	cfg["target"] = t.Spec.Name
	rep := &reports.Report{
		Scenario: sc.Name, StartedAt: start.UTC(), DurationS: sendDur.Seconds(), Config: cfg,
		Throughput: reports.Throughput{OfferedEventsPerS: offeredEvents(sc) / sc.Duration.Seconds(), AchievedEventsPerS: float64(p.Acked) / sendDur.Seconds()},
		Latency:    reports.Latencies{IngestAck: reports.FromHistogram(snd.Histogram())},
		Accuracy:   acc,
		Traffic: reports.Traffic{Generated: p.Generated, Acked: p.Acked, Rejected: p.Rejected, Failed: p.Failed, Resent: p.Resent, Throttled: p.Throttled,
			Errors: p.Errors, Duplicates: ls.Duplicates, MaxLagMS: float64(p.MaxLag.Microseconds()) / 1000},
		Faults:     faultRecords(faultRecs),
		Provenance: provenance(),
	}
	if fresh != nil {
		rep.Latency.Freshness = reports.FromHistogram(fresh.Histogram())
		rep.Latency.Query = reports.FromHistogram(ql.Histogram())
		rep.Traffic.Queries, rep.Traffic.QueryErrs = ql.Counts()
		rep.Traffic.Tracers, rep.Traffic.TracersMissed = fresh.Counts()
	}
	return rep, nil
}

// check compares every window with the truth through the target's readers.
func (r *targetRun) check(ctx context.Context) (reports.Accuracy, error) {
	q, err := r.t.Querier()
	if err != nil {
		return reports.Accuracy{}, usageError{fmt.Errorf("--target: %w", err)}
	}
	store, err := r.t.Store()
	if err != nil {
		return reports.Accuracy{}, usageError{fmt.Errorf("--target: %w", err)}
	}
	return reports.Check(ctx, r.truth, q, reports.CheckConfig{Drain: r.sc.DrainTimeout, Store: store, StoreByKey: true, KeyPrefix: r.keyPrefix})
}

// targetFaults is what the faults act on: the target's nodes, plus the
// run's traffic (overload, clock faults).
type targetFaults struct {
	faults.Target
	nodes   faults.BrokerProcess
	net     faults.Network
	traffic trafficTarget
}

func (f targetFaults) LinkProxies(link string) ([]*toxiproxy.Proxy, error) {
	return f.net.LinkProxies(link)
}

func (f targetFaults) SetLoadFactor(x float64) error { return f.traffic.SetLoadFactor(x) }
func (f targetFaults) Throttled() int64              { return f.traffic.Throttled() }
func (f targetFaults) SetClockSkew(share float64, off time.Duration) error {
	return f.traffic.SetClockSkew(share, off)
}
func (f targetFaults) SetLateBurst(share float64) error        { return f.traffic.SetLateBurst(share) }
func (f targetFaults) KillBroker() error                       { return f.nodes.KillBroker() }
func (f targetFaults) RestartBroker(ctx context.Context) error { return f.nodes.RestartBroker(ctx) }

// startFaults starts the fault schedule with the traffic; r.faultsDone
// waits for its end (every fault healed and recovered, at most the drain
// timeout after the traffic).
func (r *targetRun) startFaults(ctx context.Context) error {
	sc := r.sc
	r.faultsDone = func() []faults.Record { return nil }
	if len(sc.Faults) == 0 {
		return nil
	}
	recovered, err := r.t.Recovered(max(200, int64(sc.OfferedEvents()/sc.Duration.Seconds()/2)))
	if err != nil {
		return usageError{fmt.Errorf("--target: %w", err)}
	}
	ft := r.t.Faults()
	bp, _ := ft.(faults.BrokerProcess)
	nw, _ := ft.(faults.Network)
	sch := &faults.Schedule{Specs: sc.Faults, Target: targetFaults{Target: ft, nodes: bp, net: nw, traffic: trafficTarget{tc: r.traffic}}, Recovered: recovered}
	for _, f := range sc.Faults {
		fmt.Fprintf(r.out, "  fault %s %s at %s for %s\n", f.Kind, f.Name, f.Start, f.Duration)
	}
	schedCtx, stop := context.WithCancel(ctx)
	done := make(chan []faults.Record, 1)
	go func() { done <- sch.Run(schedCtx) }()
	r.faultsDone = func() []faults.Record {
		defer stop()
		var recs []faults.Record
		tm := time.NewTimer(max(sc.DrainTimeout, time.Minute))
		defer tm.Stop()
		select {
		case recs = <-done:
		case <-tm.C:
			stop()
			recs = <-done
		}
		for _, rec := range recs {
			switch {
			case rec.Error != "":
				r.faultErrs = append(r.faultErrs, fmt.Sprintf("fault %s: %s", rec.Name, rec.Error))
				fmt.Fprintf(r.out, "  fault %s (%s): %s\n", rec.Name, rec.Kind, rec.Error)
			case rec.RecoveryS < 0:
				fmt.Fprintf(r.out, "  fault %s (%s): injected %s, healed %s, not recovered\n", rec.Name, rec.Kind, rec.InjectedAt.Format(time.TimeOnly), rec.HealedAt.Format(time.TimeOnly))
			default:
				fmt.Fprintf(r.out, "  fault %s (%s): injected %s, healed %s (the heal took %.1fs), recovered %.1fs after the heal\n", rec.Name, rec.Kind,
					rec.InjectedAt.Format(time.TimeOnly), rec.HealedAt.Format(time.TimeOnly), rec.HealS, rec.RecoveryS)
			}
		}
		return recs
	}
	return nil
}

func ingestText(t *target.Target) string {
	if k := t.Spec.Ingest.Kafka; k != nil {
		return fmt.Sprintf("Kafka topic %s at %s (%s, key %s, %s partitioner)", k.Topic, strings.Join(k.Brokers, ","), k.Encoding, k.Key, k.Partitioner)
	}
	h := t.Spec.Ingest.HTTP
	return fmt.Sprintf("%s (%s)", h.URL, h.Format)
}

func durations(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return strings.Join(s, ",")
}

// checkOnTarget is `countlab check --truth DIR --target FILE`: the saved
// truth against the target's readers.
func checkOnTarget(ctx context.Context, truth *oracle.Oracle, path string, cfg reports.CheckConfig) error {
	t, err := target.Load(path)
	if err != nil {
		return usageError{fmt.Errorf("--target: %w", err)}
	}
	defer t.Close()
	q, err := t.Querier()
	if err != nil {
		return usageError{fmt.Errorf("--target: %w", err)}
	}
	if cfg.Store, err = t.Store(); err != nil {
		return usageError{fmt.Errorf("--target: %w", err)}
	}
	cfg.StoreByKey = true
	start := time.Now()
	acc, err := reports.Check(ctx, truth, q, cfg)
	if err != nil {
		return err
	}
	if checkAsJSON { // --json (checkout.go)
		return writeCheckJSON(os.Stdout, acc, time.Since(start))
	}
	printCheck(acc, time.Since(start))
	writeMiscounted(os.Stdout, &acc)
	if !acc.Exact {
		return exitError{1, fmt.Errorf("not exact against target %s: %d windows differ from the truth", t.Spec.Name, acc.MismatchedWindows)}
	}
	return nil
}
