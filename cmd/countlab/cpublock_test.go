package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/countlab/countlab/reports"
)

// checkCPUBlock wants plausible figures in a run's cpu block (the machine
// may be loaded: bounds, not values).
func checkCPUBlock(t *testing.T, rep *reports.Report, dir string) {
	t.Helper()
	for file, want := range map[string]string{"report.md": "## CPU", "report.html": "<h2>CPU</h2>"} {
		if b, err := os.ReadFile(filepath.Join(dir, file)); err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q (%v)", file, want, err)
		}
	}
	c := rep.CPU
	if c == nil {
		t.Fatal("report.json has no cpu block")
	}
	t.Logf("cpu: %s; stages %+v", c.Text(), c.Stages)
	if c.Events != rep.Traffic.Acked || c.WindowS <= 0 || len(c.Processes) == 0 || c.Processes[0].Name != reports.HarnessProcess {
		t.Fatalf("cpu block %+v", c)
	}
	var all float64
	for _, p := range c.Processes {
		if p.CPUS < 0 || p.Cores > 64 {
			t.Errorf("process %+v: implausible", p)
		}
		all += p.CPUS
	}
	if all <= 0 || c.SUT.CPUS <= 0 || c.SUT.MicrosPerEvent <= 0 || c.EventsPerCoreS <= 0 {
		t.Errorf("no CPU measured: %+v", c)
	}
	if d := c.SUT.CPUS + c.Harness.CPUS - all; d > 1e-6 || d < -1e-6 {
		t.Errorf("sut %.3f + harness %.3f != processes %.3f", c.SUT.CPUS, c.Harness.CPUS, all)
	}
	if c.ProfileError == "" {
		if c.Stage(reports.StageHarness) == nil || c.Stage(reports.StageEngine) == nil || c.Harness.CPUS <= 0 {
			t.Errorf("want harness and engine stages: %+v", c.Stages)
		}
	}
	// CPU by stage over time: an interval every 5 s, and the intervals
	// by offered rate, each with cores measured.
	if len(c.Intervals) < int(c.WindowS/5) || len(c.ByRate) == 0 {
		t.Errorf("cpu intervals %d over %.1f s, by rate %d: want one every 5 s and a bin", len(c.Intervals), c.WindowS, len(c.ByRate))
	}
	var ivCPU float64
	for _, iv := range c.Intervals {
		ivCPU += iv.Cores * iv.Seconds
	}
	if ivCPU <= 0 || ivCPU > 1.05*all+0.05 {
		t.Errorf("the intervals' CPU %.3f s, the processes' %.3f s", ivCPU, all)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "report.md")); err != nil || !strings.Contains(string(b), "### CPU by stage against the offered rate") {
		t.Errorf("report.md lacks the CPU by stage against the offered rate (%v)", err)
	}
	if c.TotalsWritten <= 0 || c.PointsWritten <= 0 || c.TotalsPerEvent <= 0 {
		t.Errorf("totals %d, points %d written: want some", c.TotalsWritten, c.PointsWritten)
	}
}

// faultMap is a fault record as report.json holds it: a JSON object.
func faultMap(f reports.FaultRecord) map[string]any {
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return m
}
