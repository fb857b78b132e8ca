package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// TestPlanUsage: usage errors exit 2, naming what is wrong.
func TestPlanUsage(t *testing.T) {
	f := func(name string, want string, args ...string) {
		t.Helper()
		var stderr bytes.Buffer
		if code := runMain(append([]string{"plan"}, args...), &stderr); code != 2 {
			t.Errorf("%s: exit %d, want 2 (%s)", name, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("%s: stderr %q lacks %q", name, stderr.String(), want)
		}
	}
	f("no plan", "missing PLAN")
	f("unknown plan", "shipped: small", "no-such-plan")
	f("grid flag", "--partitions: the plan's grid sets it", "small", "--partitions", "3")
	f("bad flag", "flag provided but not defined", "small", "--nope")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\ngrid: {partitions: [4], workers: [1]}\nsearch: {start_events_per_s: 0}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f("invalid plan", "search.start_events_per_s: must be > 0", bad)
}

// TestPlanEndToEnd runs a tiny plan (one cell: 2 partitions x 1 engine
// worker process, three 3 s ramp trials, a fourth to search when one
// was not sustainable) against the real embedded stack
// and influxd, and wants every trial recorded, the cell's events counted
// exactly, and plan.json, plan.md and plan.html written.
func TestPlanEndToEnd(t *testing.T) {
	influx := testInflux(t)
	bin := buildCountlab(t)
	engineBinary = func() (string, error) { return bin, nil }
	defer func() { engineBinary = os.Executable }()
	planTestHook = func(p *scenarios.Plan) {
		p.Traffic.Keys.Count = 200
		p.Grid = scenarios.Grid{Partitions: []int{2}, Workers: []int{1}}
		s := &p.Search
		s.StartEventsPerS, s.MaxEventsPerS, s.RampFactor = 1000, 3000, 2
		s.StepDuration, s.TrialDuration, s.MaxSearchSteps = 3*time.Second, 3*time.Second, 1
		s.DrainTimeout = 30 * time.Second
		// A loaded CI machine: the trials are about recording, not speed
		// (a 3 s trial's lag is one hiccup away from a slope).
		p.SLO.MaxP99IngestAckMS, p.SLO.MaxP99FreshnessMS = 0, 0
		s.MinAchievedRatio, s.MaxLagGrowth = 0.5, 1
	}
	defer func() { planTestHook = nil }()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t0 := time.Now()
	err := cmdPlan(ctx, append([]string{"small", "--report-dir", dir}, influx...))
	if err != nil {
		var ee exitError
		if !errors.As(err, &ee) {
			t.Fatalf("plan: %v", err)
		}
		t.Errorf("plan failed: %v", err)
	}
	rep, err := reports.ReadPlanFile(filepath.Join(dir, "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Cells) != 1 {
		t.Fatalf("%d cells", len(rep.Cells))
	}
	c := rep.Cells[0]
	if c.Partitions != 2 || c.Workers != 1 || c.Error != "" || len(c.Trials) < 2 || len(c.Trials) > 4 {
		t.Fatalf("cell %dx%d: error %q, %d trials", c.Partitions, c.Workers, c.Error, len(c.Trials))
	}
	var acked int64
	for i, tr := range c.Trials {
		if tr.Acked == 0 || len(tr.Lag) == 0 || tr.DurationS < 2.5 || tr.OfferedEventsPerS <= 0 || !tr.Drained {
			t.Errorf("trial %d not measured: %+v", i, tr)
		}
		acked += tr.Acked
		if tr.CPU == nil || tr.CPU.EngineCores <= 0 || tr.CPU.EngineMicrosPerEvent <= 0 || tr.CPU.SUTCores < tr.CPU.EngineCores {
			t.Errorf("trial %d: cpu %+v", i, tr.CPU)
		}
	}
	if c.CPUFit == nil || c.CPUFit.Trials != len(c.Trials) {
		t.Errorf("cell cpu fit %+v", c.CPUFit)
	} else {
		t.Logf("cpu fit: %+v; recommendation cpu %+v", *c.CPUFit, rep.Recommendation.CPU)
	}
	if c.Accuracy == nil || !c.Accuracy.Exact || c.Accuracy.Lost != 0 || c.Accuracy.Duplicated != 0 || c.Accuracy.CountedEvents < acked*9/10 {
		t.Fatalf("accuracy %+v (acked %d)", c.Accuracy, acked)
	}
	if c.MaxSustainableEventsPerS <= 0 || len(rep.Fits) != 1 || rep.Fits[0].Fit == nil || rep.Fits[0].Fit.Method != "linear" {
		t.Fatalf("max %v, fits %+v", c.MaxSustainableEventsPerS, rep.Fits)
	}
	if len(rep.Recommendation.Lines) < 3 {
		t.Errorf("recommendation %v", rep.Recommendation.Lines)
	}
	for _, f := range []string{"plan.md", "plan.html"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() < 500 {
			t.Errorf("%s: %v", f, err)
		}
	}
	t.Logf("tiny plan in %s: %d trials, max sustainable %.0f events/s (capped %v), %d events exact in %d windows",
		time.Since(t0).Round(time.Second), len(c.Trials), c.MaxSustainableEventsPerS, c.Capped, c.Accuracy.CountedEvents, c.Accuracy.WindowsChecked)
}
