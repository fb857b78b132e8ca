package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/scenarios"
)

// planTestHook, when set (by tests only), may change the loaded plan
// before it runs (e.g. shrink it).
var planTestHook func(*scenarios.Plan)

// cmdPlan runs a capacity plan (run.Runner.Plan): flags -> options, then
// the plan's verdict lines. It writes plan.json, plan.md and plan.html.
func cmdPlan(ctx context.Context, args []string) error {
	fs := newFlagSet("plan")
	var sf stackFlags
	sf.register(fs, false)
	reportDir := fs.String("report-dir", "", "write plan.json, plan.md and plan.html here (default reports/out/plan-PLAN-<UTC time>)")
	name, err := parseWithPositional(fs, args, "PLAN")
	if err != nil {
		return err
	}
	if err := sf.validate(); err != nil {
		return err
	}
	p, err := scenarios.LookupPlan(name)
	if err != nil {
		return usageError{Err: err}
	}
	if planTestHook != nil {
		planTestHook(p)
	}
	for _, f := range []string{"partitions", "workers"} {
		if sf.given(f) {
			return usagef("--%s: the plan's grid sets it", f)
		}
	}
	dir := *reportDir
	if dir == "" {
		dir = filepath.Join("reports", "out", "plan-"+p.Name+"-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	opts, err := sf.runOptions(os.Stderr)
	if err != nil {
		return err
	}
	r, err := run.New(append(opts, run.Output(os.Stdout), run.Progress(os.Stderr), run.ReportDir(dir))...)
	if err != nil {
		return err
	}
	rep, err := r.Plan(ctx, p)
	if err != nil {
		return err
	}
	out := os.Stdout
	fmt.Fprintf(out, "\nplan %s: %s\n", p.Name, filepath.Join(dir, "plan.json"))
	for _, f := range rep.Fits {
		if f.Fit != nil {
			fmt.Fprintf(out, "  USL fit, %d partitions (%s): lambda %.0f events/s, sigma %.4g, kappa %.4g, R² %.3f\n",
				f.Partitions, f.Fit.Method, f.Fit.Lambda, f.Fit.Sigma, f.Fit.Kappa, f.Fit.R2)
		}
	}
	fmt.Fprintln(out, "recommendation:")
	for _, l := range rep.Recommendation.Lines {
		fmt.Fprintf(out, "  %s\n", l)
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
