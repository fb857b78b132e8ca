package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/reports"
)

// repeatSummary is summary.json of run --repeat: each run's verdict and
// the gate over all of them.
type repeatSummary struct {
	Scenario string              `json:"scenario"`
	Runs     []repeatRun         `json:"runs"`
	Pass     bool                `json:"pass"`
	Baseline *reports.Comparison `json:"baseline,omitempty"`
}

type repeatRun struct {
	Report string `json:"report"`
	Pass   bool   `json:"pass"`
	// Error is why the run failed ("" when it passed).
	Error string `json:"error,omitempty"`
}

// runRepeat runs the scenario n times (countlab run with args, each into
// dir/run-I without --baseline), then gates the n runs together against
// base and writes dir/summary.json. Exit 1 when a run failed or the gate
// found a regression.
func runRepeat(ctx context.Context, args []string, n int, dir string, base []reports.Run) error {
	args = dropFlags(args, "repeat", "baseline", "report-dir")
	sum := repeatSummary{Pass: true}
	for i := 1; i <= n; i++ {
		runDir := filepath.Join(dir, "run-"+strconv.Itoa(i))
		fmt.Fprintf(os.Stdout, "\n== run %d of %d: %s\n", i, n, runDir)
		err := cmdRun(ctx, append(append([]string{}, args...), "--report-dir", runDir))
		var ee exitError
		switch {
		case err == nil:
		case errors.As(err, &ee) && ee.code == 1:
		default:
			return err // a usage error or a broken stack: no point going on
		}
		rr := repeatRun{Report: filepath.Join(runDir, "report.json"), Pass: err == nil}
		if err != nil {
			rr.Error = err.Error()
			sum.Pass = false
		}
		sum.Runs = append(sum.Runs, rr)
	}
	cur, err := reports.LoadRuns(dir)
	if err != nil {
		return err
	}
	sum.Scenario = cur[0].Report.Scenario
	fmt.Fprintf(os.Stdout, "\n== %d runs of %s\n", n, sum.Scenario)
	for _, r := range sum.Runs {
		v := "PASS"
		if !r.Pass {
			v = "FAIL: " + r.Error
		}
		fmt.Fprintf(os.Stdout, "  %s: %s\n", r.Report, v)
	}
	gated := slices.DeleteFunc(slices.Clone(cur), func(r reports.Run) bool { return r.Report.Aborted != nil })
	if base != nil && len(gated) < len(cur) {
		fmt.Fprintf(os.Stdout, "  %d of the runs aborted: the gate compares the other %d\n", len(cur)-len(gated), len(gated))
	}
	if base != nil && len(gated) > 0 {
		c, err := run.GateRuns(base, gated)
		if err != nil {
			return err
		}
		sum.Baseline = c
		sum.Pass = sum.Pass && len(c.Regressed) == 0
		c.WriteSummary(os.Stdout)
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "summary.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "  summary: %s (gate later runs with --baseline %s)\n", path, dir)
	if !sum.Pass {
		var why []string
		for _, r := range sum.Runs {
			if !r.Pass {
				why = append(why, r.Error)
			}
		}
		if sum.Baseline != nil {
			for _, m := range sum.Baseline.Regressed {
				why = append(why, "regressed "+m)
			}
		}
		return exitError{1, fmt.Errorf("%d runs of %s: %s", n, sum.Scenario, strings.Join(why, "; "))}
	}
	return nil
}

// dropFlags removes --name V, --name=V (one or two dashes) of each name
// from args.
func dropFlags(args []string, names ...string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		name, _, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || !slices.Contains(names, name) {
			out = append(out, a)
			continue
		}
		if !hasVal {
			i++ // the value
		}
	}
	return out
}
