package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// planTestHook, when set (by tests only), may change the loaded plan
// before it runs (e.g. shrink it).
var planTestHook func(*scenarios.Plan)

// cmdPlan runs a capacity plan: for every partitions x workers cell of
// the plan's grid it starts the stack (engine workers as processes),
// searches for the maximum sustainable rate, checks the cell's events
// exactly, then fits the Universal Scalability Law over workers and
// answers the plan's target. It writes plan.json, plan.md and plan.html.
func cmdPlan(ctx context.Context, args []string) error {
	fs := newFlagSet("plan")
	var sf stackFlags
	sf.register(fs, false)
	reportDir := fs.String("report-dir", "", "write plan.json, plan.md and plan.html here (default reports/out/plan-PLAN-<UTC time>)")
	name, err := parseWithPositional(fs, args, "PLAN")
	if err != nil {
		return err
	}
	p, err := scenarios.LookupPlan(name)
	if err != nil {
		return usageError{err}
	}
	if planTestHook != nil {
		planTestHook(p)
		if err := p.Validate(); err != nil {
			return usageError{err}
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, f := range []string{"partitions", "workers"} {
		if set[f] {
			return usagef("--%s: the plan's grid sets it", f)
		}
	}
	// The engine section's windows, lateness, ... unless given as flags.
	applyScenarioEngine(fs, &sf, p.TrialScenario(1, time.Second, 1, 1))
	if !set["engine-procs"] {
		// Workers as processes compete for the CPU as they would.
		sf.engineProcs = true
	}
	if err := sf.validate(); err != nil {
		return err
	}
	dir := *reportDir
	if dir == "" {
		dir = filepath.Join("reports", "out", "plan-"+p.Name+"-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	pr := &planRun{plan: p, sf: &sf, out: os.Stdout, errw: os.Stderr}
	rep, err := pr.run(ctx)
	if err != nil {
		return err
	}
	if err := rep.WriteFiles(dir); err != nil {
		return err
	}
	fmt.Fprintf(pr.out, "\nplan %s: %s\n", p.Name, filepath.Join(dir, "plan.json"))
	for _, f := range rep.Fits {
		if f.Fit != nil {
			fmt.Fprintf(pr.out, "  USL fit, %d partitions (%s): lambda %.0f events/s, sigma %.4g, kappa %.4g, R² %.3f\n",
				f.Partitions, f.Fit.Method, f.Fit.Lambda, f.Fit.Sigma, f.Fit.Kappa, f.Fit.R2)
		}
	}
	fmt.Fprintln(pr.out, "recommendation:")
	for _, l := range rep.Recommendation.Lines {
		fmt.Fprintf(pr.out, "  %s\n", l)
	}
	var failed []string
	for _, c := range rep.Cells {
		switch {
		case c.Error != "":
			failed = append(failed, fmt.Sprintf("cell %dx%d: %s", c.Partitions, c.Workers, c.Error))
		case c.Accuracy != nil && !c.Accuracy.Exact:
			failed = append(failed, fmt.Sprintf("cell %dx%d: not exact (%d lost, %d duplicated, %d windows off)",
				c.Partitions, c.Workers, c.Accuracy.Lost, c.Accuracy.Duplicated, c.Accuracy.MismatchedWindows))
		}
	}
	if len(failed) > 0 {
		return exitError{1, fmt.Errorf("plan %s: %s", p.Name, strings.Join(failed, "; "))}
	}
	return nil
}

// planRun is one run of a plan.
type planRun struct {
	plan *scenarios.Plan
	sf   *stackFlags
	out  io.Writer
	errw io.Writer
}

func (r *planRun) run(ctx context.Context) (*reports.PlanReport, error) {
	p := r.plan
	t0 := time.Now()
	rep := &reports.PlanReport{
		Plan: p.Name, Description: p.Description, StartedAt: t0.UTC(), Config: p.ConfigMap(),
		Host: reports.PlanHost{CPUs: runtime.NumCPU(), LoadAvgStart: loadAvg()},
		Criteria: reports.PlanCriteria{MinAchievedRatio: p.Search.MinAchievedRatio, MaxLagGrowth: p.Search.MaxLagGrowth,
			MaxP99IngestAckMS: p.SLO.MaxP99IngestAckMS, MaxP99FreshnessMS: p.SLO.MaxP99FreshnessMS},
		Target: reports.PlanTarget{EventsPerDay: p.Target.EventsPerDay, PeakFactor: p.Target.PeakFactor, Keys: p.Target.Keys,
			ZipfS: p.Target.ZipfS, NodeEventsPerS: p.Target.NodeEventsPerS, CoresPerNode: p.Target.CoresPerNode,
			CoresPerWorker: p.Target.CoresPerWorker, Headroom: p.Target.Headroom},
		Exact: true,
	}
	ncells := len(p.Grid.Partitions) * len(p.Grid.Workers)
	tr := p.TrialScenario(1, time.Second, 1, 1).Traffic
	fmt.Fprintf(r.out, "countlab plan %s: %d cells (partitions %v x workers %v), %d %s keys via %s (%s)\n",
		p.Name, ncells, p.Grid.Partitions, p.Grid.Workers, tr.Keys.Count, tr.Keys.Distribution, tr.Via, tr.Format)
	status := &planStatus{start: t0}
	prog := newProgressLine(r.errw)
	progCtx, stopProg := context.WithCancel(ctx)
	progDone := make(chan struct{})
	go func() { defer close(progDone); prog.loop(progCtx, status.line) }()
	defer func() { stopProg(); <-progDone; prog.clear() }()
	i := 0
	for _, parts := range p.Grid.Partitions {
		for _, workers := range p.Grid.Workers {
			i++
			status.set(&status.cell, fmt.Sprintf("cell %d/%d: %d partitions x %d workers", i, ncells, parts, workers))
			status.set(&status.what, "starting the stack")
			cell, err := r.cell(ctx, parts, workers, status)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != nil {
				cell.Error = err.Error()
				fmt.Fprintf(r.out, "  cell %dx%d: error: %v\n", parts, workers, err)
			}
			if cell.Accuracy != nil && !cell.Accuracy.Exact {
				rep.Exact = false
			}
			rep.Cells = append(rep.Cells, cell)
		}
	}
	rep.Fits = reports.FitCells(rep.Cells)
	rep.Recommendation = reports.Recommend(rep.Target, rep.Fits, rep.Cells)
	rep.DurationS = time.Since(t0).Seconds()
	rep.Host.LoadAvgEnd = loadAvg()
	return rep, nil
}

// cell measures one grid cell on a stack of its own.
func (r *planRun) cell(ctx context.Context, parts, workers int, status *planStatus) (cell reports.PlanCell, _ error) {
	p := r.plan
	cell = reports.PlanCell{Partitions: parts, Workers: workers}
	t0 := time.Now()
	defer func() { cell.DurationS = time.Since(t0).Seconds() }()
	sf := *r.sf
	sf.partitions, sf.workers = parts, workers
	log := sf.logger(r.errw)
	fmt.Fprintf(r.out, "  cell %dx%d: %d partitions, %d engine workers%s\n", parts, workers, parts, workers, map[bool]string{true: " (processes)", false: " (in-process)"}[sf.engineProcs])
	st, err := startStack(ctx, &sf, log)
	if err != nil {
		return cell, fmt.Errorf("start the stack: %w", err)
	}
	defer st.Close()
	labelStage(reports.StageHarness) // the CPU profile's stage of the trials (cpu.go)
	defer unlabelStage()
	cell.StackStartS = time.Since(t0).Seconds()
	token, _ := gatewayTokenFromEnv()
	qc, err := client.New("http://"+st.qAddr, client.Token(token))
	if err != nil {
		return cell, err
	}
	proto := seriesSampler{every: planLagEvery, log: log}
	var closeLag func()
	if proto.lag, closeLag, err = newEngineLag(st); err != nil {
		return cell, err
	}
	defer closeLag()
	probe, err := newLagProbe(st, int64(200+4*parts))
	if err != nil {
		return cell, err
	}
	defer probe.Close()
	keyBase := fmt.Sprintf("c%dx%d-", parts, workers)
	if sf.brokers != "" || sf.influxURL != "" || sf.dataDir != "" {
		// Shared with earlier runs: keys of this run's own.
		keyBase = "p" + strconv.FormatInt(t0.UnixMilli(), 36) + "-" + keyBase
	}
	truth, err := newTruth(st.windows, &sf)
	if err != nil {
		return cell, err
	}
	pc := &planCell{plan: p, st: st, partitions: parts, workers: workers, keyBase: keyBase, token: token,
		crit: reports.PlanCriteria{MinAchievedRatio: p.Search.MinAchievedRatio, MaxLagGrowth: p.Search.MaxLagGrowth,
			MaxP99IngestAckMS: p.SLO.MaxP99IngestAckMS, MaxP99FreshnessMS: p.SLO.MaxP99FreshnessMS},
		truth: truth, qc: qc, proto: proto, probe: probe, log: log, out: r.out, status: status}
	res, err := searchMax(ctx, p.Search, pc.trial)
	cell.Trials = res.trials
	cell.CPUFit = reports.FitCellCPU(res.trials) // cpuplan.go
	cell.MaxSustainableEventsPerS, cell.FirstUnsustainableEventsPerS, cell.Capped = res.best, res.firstBad, res.capped
	for _, t := range res.trials {
		cell.EventsAcked += t.Acked
	}
	if err != nil {
		return cell, err
	}
	capped := ""
	if res.capped {
		capped = " (the search's max: at least this)"
	}
	fmt.Fprintf(r.out, "  cell %dx%d: max sustainable %.0f events/s%s in %d trials\n", parts, workers, res.best, capped, len(res.trials))
	if p.SLO.AccuracyExact {
		status.set(&status.what, "checking every window of the cell's trials exactly")
		acc, err := reports.Check(ctx, pc.truth, qc, reports.CheckConfig{Drain: p.Search.DrainTimeout})
		if err != nil {
			return cell, fmt.Errorf("accuracy check: %w", err)
		}
		cell.Accuracy = &acc
		fmt.Fprintf(r.out, "  cell %dx%d: exact=%v: %d of %d events counted, %d lost, %d duplicated, %d of %d windows off\n", parts, workers,
			acc.Exact, acc.CountedEvents, acc.ExpectedEvents, acc.Lost, acc.Duplicated, acc.MismatchedWindows, acc.WindowsChecked)
	}
	return cell, nil
}

// loadAvg is the 1-minute load average (0 when unknown).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
