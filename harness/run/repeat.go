package run

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/countlab/countlab/reports"
)

// RepeatFile is the summary Repeat writes into its directory.
const RepeatFile = "summary.json"

// RepeatSummary is summary.json of a repeat (`countlab run --repeat N`):
// each run's verdict and the gate over all of them.
type RepeatSummary struct {
	Scenario string      `json:"scenario"`
	Runs     []RepeatRun `json:"runs"`
	// Pass is every run passing and, with a baseline, no regression.
	Pass     bool                `json:"pass"`
	Baseline *reports.Comparison `json:"baseline,omitempty"`
}

// RepeatRun is one run of a repeat.
type RepeatRun struct {
	Report string `json:"report"`
	Pass   bool   `json:"pass"`
	// Error is why the run failed ("" when it passed).
	Error string `json:"error,omitempty"`
}

// Why says why the repeat failed: each failed run's reasons and each
// regressed metric ("" when it passed).
func (s *RepeatSummary) Why() string {
	var why []string
	for _, r := range s.Runs {
		if !r.Pass {
			why = append(why, r.Error)
		}
	}
	if s.Baseline != nil {
		for _, m := range s.Baseline.Regressed {
			why = append(why, "regressed "+m)
		}
	}
	return strings.Join(why, "; ")
}

// Once runs one repetition with its report and truth written into dir
// (ReportDir) and no baseline of its own, and returns its report. An
// error is a run that could not be judged (a bad scenario, a broken
// stack): it ends the repeat.
type Once func(ctx context.Context, dir string) (*reports.Report, error)

// Repeat runs once n times, into dir/run-1 ... dir/run-N, then gates the
// runs that did not abort together against base (none: no gate), writes
// dir/summary.json and prints the runs' verdicts and the gate's table to
// out. The summary's Pass is the verdict.
func Repeat(ctx context.Context, n int, dir string, base []reports.Run, out io.Writer, once Once) (*RepeatSummary, error) {
	if n < 1 {
		return nil, fmt.Errorf("run: repeat %d times: want 1 or more", n)
	}
	sum := &RepeatSummary{Pass: true}
	for i := 1; i <= n; i++ {
		runDir := filepath.Join(dir, "run-"+strconv.Itoa(i))
		fmt.Fprintf(out, "\n== run %d of %d: %s\n", i, n, runDir)
		rep, err := once(ctx, runDir)
		if err != nil {
			return nil, err
		}
		rr := RepeatRun{Report: filepath.Join(runDir, reports.JSONFile), Pass: rep.Pass}
		if !rep.Pass {
			rr.Error = FailureText(rep)
			sum.Pass = false
		}
		sum.Runs = append(sum.Runs, rr)
	}
	cur, err := reports.LoadRuns(dir)
	if err != nil {
		return nil, err
	}
	sum.Scenario = cur[0].Report.Scenario
	fmt.Fprintf(out, "\n== %d runs of %s\n", n, sum.Scenario)
	for _, r := range sum.Runs {
		v := "PASS"
		if !r.Pass {
			v = "FAIL: " + r.Error
		}
		fmt.Fprintf(out, "  %s: %s\n", r.Report, v)
	}
	gated := slices.DeleteFunc(slices.Clone(cur), func(r reports.Run) bool { return r.Report.Aborted != nil })
	if base != nil && len(gated) < len(cur) {
		fmt.Fprintf(out, "  %d of the runs aborted: the gate compares the other %d\n", len(cur)-len(gated), len(gated))
	}
	if base != nil && len(gated) > 0 {
		c, err := GateRuns(base, gated)
		if err != nil {
			return nil, err
		}
		sum.Baseline = c
		sum.Pass = sum.Pass && len(c.Regressed) == 0
		c.WriteSummary(out)
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, RepeatFile)
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "  summary: %s (gate later runs with --baseline %s)\n", path, dir)
	return sum, nil
}
