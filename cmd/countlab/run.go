package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
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
// InfluxDB given by the stack flags): flags -> run.New(opts...).Run.
func cmdRun(ctx context.Context, args []string) error {
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
	sf.markScenarioOverrides()
	allowChaos := fs.String("allow-chaos", "", "opt external targets (--brokers, --influx-url; loopback addresses too) in to the faults that need control over them: broker, influx, comma-separated")
	deleteTopics := fs.Bool("delete-topics", false, "at the end, delete every topic whose name begins with the run's topic prefix (needs --brokers)")
	var faultSeed *uint64
	fs.Func("fault-seed", "override the seed of the scenario's random_faults (the schedule it draws)", func(s string) error {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number >= 0", s)
		}
		faultSeed = &n
		return nil
	})
	reportDir := fs.String("report-dir", "", "write report.json, report.md, report.html and "+run.TruthFile+" here (default reports/out/SCENARIO-<UTC time>)")
	var baseline listFlag
	fs.Var(&baseline, "baseline", "gate against these earlier runs: report.json files, run directories or a --repeat directory (repeat the flag or separate with commas); a metric whose runs rank worse beyond its minimum effect fails the run (README: CI regression gate)")
	repeat := fs.Int("repeat", 1, "run the scenario N times, each its own report in --report-dir/run-I, then gate the N runs together against --baseline (summary.json)")
	duration := fs.Duration("duration", 0, "override the scenario's duration")
	targetPath := fs.String("target", "", targetFlagUsage) // target.go
	pprofAddr := fs.String("pprof", "", pprofFlagUsage)    // pprof.go
	name, err := parseWithPositional(fs, args, "SCENARIO")
	if err != nil {
		return err
	}
	stopPprof, err := servePprof(*pprofAddr)
	if err != nil {
		return err
	}
	defer stopPprof()
	if err := sf.validate(); err != nil {
		return err
	}
	load := func() (*scenarios.Scenario, error) { // each run of --repeat its own
		sc, err := scenarios.Lookup(name)
		if err != nil {
			return nil, usageError{Err: err}
		}
		if *duration > 0 {
			sc.Duration = *duration
		}
		if runTestHook != nil {
			runTestHook(sc)
		}
		plant.apply(sc)
		return sc, nil
	}
	sc, err := load()
	if err != nil {
		return err
	}
	limitMemory(sc)
	if *repeat < 1 {
		return usagef("--repeat: want 1 or more runs (got %d)", *repeat)
	}
	base, err := run.LoadBaselines(baseline, sc)
	if err != nil {
		return err
	}
	dir := *reportDir
	if dir == "" {
		dir = filepath.Join("reports", "out", sc.Name+"-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	opts, err := sf.runOptions(os.Stderr)
	if err != nil {
		return err
	}
	opts = append(opts, run.Output(os.Stdout), run.Progress(os.Stderr),
		run.AllowChaos(splitList(*allowChaos)...), run.DeleteTopics(*deleteTopics),
		run.PlantBugUNSAFE(plantBug), run.AtLeastOnceUNSAFE(atLeastOnce), run.Stack(plant.stackOpts()...))
	if faultSeed != nil {
		opts = append(opts, run.FaultSeed(*faultSeed))
	}
	if *targetPath != "" {
		opt, closeTarget, err := targetOption(ctx, *targetPath) // target.go
		if err != nil {
			return err
		}
		defer closeTarget()
		opts = append(opts, opt)
	}
	once := func(ctx context.Context, sc *scenarios.Scenario, dir string, more ...run.Opt) (*reports.Report, error) {
		r, err := run.New(slices.Concat(opts, []run.Opt{run.ReportDir(dir)}, more)...)
		if err != nil {
			return nil, err
		}
		rep, err := r.Run(ctx, sc)
		if err != nil {
			return nil, err
		}
		rep.WriteSummary(os.Stdout, filepath.Join(dir, reports.JSONFile))
		return rep, nil
	}
	if *repeat > 1 {
		sum, err := run.Repeat(ctx, *repeat, dir, base, os.Stdout, func(ctx context.Context, dir string) (*reports.Report, error) {
			sc, err := load()
			if err != nil {
				return nil, err
			}
			return once(ctx, sc, dir)
		})
		if err != nil {
			return err
		}
		if !sum.Pass {
			return exitError{1, fmt.Errorf("%d runs of %s: %s", *repeat, sum.Scenario, sum.Why())}
		}
		return nil
	}
	rep, err := once(ctx, sc, dir, run.Baseline(base))
	if err != nil {
		return err
	}
	if !rep.Pass {
		return exitError{1, errors.New(run.FailureText(rep))}
	}
	return nil
}

// planted are run's hidden planted regressions (TEST ONLY), for showing
// that the gate catches them.
type planted struct {
	queryDelayMS int
	slowGateway  bool
}

// takePlantedRegressions removes the hidden --plant-query-delay-ms=N and
// --plant-slow-gateway flags from args.
func takePlantedRegressions(args []string) ([]string, planted, error) {
	var p planted
	args, ms, err := takeHiddenInt(args, plantQueryDelayFlag)
	if err != nil {
		return nil, p, err
	}
	args, slow, err := takeHiddenBool(args, plantSlowGatewayFlag)
	if err != nil {
		return nil, p, err
	}
	p.queryDelayMS, p.slowGateway = ms, slow
	return args, p, nil
}

// apply changes the scenario (before it is validated).
func (p planted) apply(sc *scenarios.Scenario) {
	if p.slowGateway {
		halveGateway(sc)
	}
}

// stackOpts are the stack options of the planted regressions.
func (p planted) stackOpts() []stack.Opt {
	if p.queryDelayMS > 0 {
		return []stack.Opt{stack.QueryMiddleware(delayHandler(time.Duration(p.queryDelayMS) * time.Millisecond))}
	}
	return nil
}

// limitMemory gives the Go runtime a soft memory limit of 90% of the
// scenario's bound on countlab's own resident memory
// (slo.max_harness_rss_mib), unless GOMEMLIMIT is set: near the bound the
// collector then runs more often instead of letting the heap grow to
// twice what is live (the embedded broker's retained log and the truth,
// most of the heap, are live data).
func limitMemory(sc *scenarios.Scenario) {
	if mib := sc.SLO.MaxHarnessRSSMiB; mib > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(mib * 0.9 * (1 << 20)))
	}
}
