package run

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/harness"
	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// Plan runs a capacity plan: for every partitions x workers cell of the
// plan's grid it starts the embedded stack (engine workers as processes
// unless the runner's stack options say otherwise), searches for the
// maximum sustainable rate, checks the cell's events exactly, then fits
// the Universal Scalability Law over workers and answers the plan's
// target. With ReportDir, plan.json, plan.md and plan.html are written
// there.
func (rn *Runner) Plan(ctx context.Context, p *scenarios.Plan) (*reports.PlanReport, error) {
	if err := p.Validate(); err != nil {
		return nil, harness.ConfigError{Err: err}
	}
	pr := &planRun{plan: p, cfg: &rn.cfg, out: rn.cfg.out, errw: rn.cfg.errw}
	rep, err := pr.run(ctx)
	if err != nil {
		return nil, err
	}
	if dir := rn.cfg.reportDir; dir != "" {
		if err := rep.WriteFiles(dir); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// planRun is one run of a plan.
type planRun struct {
	plan *scenarios.Plan
	cfg  *cfg
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
	c := r.cfg
	log := c.log
	// The engine section's windows, lateness, ...; workers as processes
	// compete for the CPU as they would; then the runner's options.
	opts := append(c.scenarioStack(p.TrialScenario(1, time.Second, parts, workers)), stack.EngineProcesses(true))
	opts = append(opts, c.stackOpts...)
	opts = append(opts, stack.Partitions(parts), stack.Workers(workers))
	fmt.Fprintf(r.out, "  cell %dx%d: %d partitions, %d engine workers\n", parts, workers, parts, workers)
	st, err := stack.New(ctx, opts...)
	if err != nil {
		return cell, fmt.Errorf("start the stack: %w", err)
	}
	defer st.Close()
	stack.LabelStage(reports.StageHarness) // the CPU profile's stage of the trials (harness/probe)
	defer stack.UnlabelStage()
	cell.StackStartS = time.Since(t0).Seconds()
	tg, err := StackTarget(st, c.token)
	if err != nil {
		return cell, err
	}
	qc := tg.Query.(*client.Client)
	keyBase := fmt.Sprintf("c%dx%d-", parts, workers)
	if c.isolateKeys || len(c.kafka.Brokers) > 0 || c.influx.URL != "" {
		// Shared with earlier runs: keys of this run's own.
		keyBase = "p" + strconv.FormatInt(t0.UnixMilli(), 36) + "-" + keyBase
	}
	truth, err := NewTruth(st.Windows(), st.Lateness(), st.OutOfOrderness())
	if err != nil {
		return cell, err
	}
	pc := &planCell{plan: p, st: st, target: tg, partitions: parts, workers: workers, keyBase: keyBase, token: c.token, bound: int64(200 + 4*parts),
		crit: reports.PlanCriteria{MinAchievedRatio: p.Search.MinAchievedRatio, MaxLagGrowth: p.Search.MaxLagGrowth,
			MaxP99IngestAckMS: p.SLO.MaxP99IngestAckMS, MaxP99FreshnessMS: p.SLO.MaxP99FreshnessMS},
		truth: truth, qc: qc, log: log, out: r.out, status: status}
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
