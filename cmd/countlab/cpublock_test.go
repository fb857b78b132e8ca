package main

import (
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
	if c.TotalsWritten <= 0 || c.PointsWritten <= 0 || c.TotalsPerEvent <= 0 {
		t.Errorf("totals %d, points %d written: want some", c.TotalsWritten, c.PointsWritten)
	}
}
