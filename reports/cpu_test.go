package reports

import (
	"math"
	"strings"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestNewCPU: the countlab process split by its samples, the unlabelled
// ones shared between SUT and harness as their labelled ones are; the
// other processes are the system under test.
func TestNewCPU(t *testing.T) {
	c := NewCPU(CPUInput{WindowS: 10, ClockTicksPerS: 100, Events: 100000, Self: HarnessProcess,
		Processes: []ProcessCPUTime{{Name: HarnessProcess, PIDs: []int{1}, CPUS: 4}, {Name: "engine-0", PIDs: []int{2, 3}, CPUS: 3}, {Name: "influxd", PIDs: []int{4}, CPUS: 1}},
		// labelled: 60 SUT, 20 harness; 20 unlabelled -> 15 SUT, 5 harness.
		StageSamples:  map[string]int64{StageGateway: 40, StageSink: 20, StageHarness: 15, StageNetProxy: 5, StageUnlabelled: 20},
		TotalsWritten: 50000, PointsWritten: 40000})
	if c.ProfileSamples != 100 || len(c.Stages) != 5 || c.Stages[0].Name != StageGateway || !near(c.Stages[0].CPUS, 1.6) {
		t.Fatalf("stages %+v", c.Stages)
	}
	// SUT: 3 + 1 + 4*0.75; harness 4*0.25.
	if !near(c.SUT.CPUS, 7) || !near(c.Harness.CPUS, 1) || !near(c.HarnessShare, 1.0/8) || !near(c.SUT.Cores, 0.7) {
		t.Fatalf("sut %+v harness %+v share %v", c.SUT, c.Harness, c.HarnessShare)
	}
	if !near(c.SUT.MicrosPerEvent, 70) || !near(c.EventsPerCoreS, 100000.0/7) || !near(c.TotalsPerEvent, 0.5) || !near(c.PointsPerEvent, 0.4) {
		t.Fatalf("per event %+v", c)
	}
	if s := c.Stage(StageSink); s == nil || !near(s.MicrosPerEvent, 8) || s.Role != RoleSUT {
		t.Fatalf("sink %+v", s)
	}
	if !near(c.EngineCores(), 0.3) {
		t.Fatalf("engine cores %v", c.EngineCores())
	}
	r := &Report{CPU: c}
	var b strings.Builder
	r.cpuMarkdown(&b)
	for _, want := range []string{"## CPU", "process engine-0 (pid 2,3)", "stage gateway", "system under test (end to end)", "| 70.0 |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report.md CPU section lacks %q:\n%s", want, b.String())
		}
	}

	// No profile: the countlab process counts whole, with a note.
	c = NewCPU(CPUInput{WindowS: 1, Events: 10, Self: HarnessProcess, Processes: []ProcessCPUTime{{Name: HarnessProcess, CPUS: 2}}})
	if !near(c.SUT.CPUS, 2) || c.Harness.CPUS != 0 || len(c.Notes) == 0 {
		t.Fatalf("no profile: %+v", c)
	}
}

// TestCPUPlanFit: engine cores against achieved rate, a line with fixed
// and marginal cost; the sizing spreads the required rate over the
// workers.
func TestCPUPlanFit(t *testing.T) {
	var trials []PlanTrial
	for _, rate := range []float64{1000, 2000, 4000} {
		// 0.2 cores fixed + 20 µs per event.
		trials = append(trials, PlanTrial{StartedAt: time.Unix(0, 0), AchievedEventsPerS: rate, CPU: &TrialCPU{EngineCores: 0.2 + rate*20e-6}})
	}
	f := FitCellCPU(trials)
	if f == nil || !near(math.Round(f.FixedCores*1e6)/1e6, 0.2) || math.Abs(f.MarginalMicrosPerEvent-20) > 1e-6 || f.Trials != 3 || f.R2 < 0.999 {
		t.Fatalf("fit %+v", f)
	}
	if FitCellCPU(trials[:1]) != nil {
		t.Fatal("one trial: want no fit")
	}
	cells := []PlanCell{{Partitions: 4, Workers: 2, CPUFit: f}}
	s := cpuSizing(cells, 4, 4, 100000)
	// 0.1 fixed per worker + 25000 events/s x 20 µs = 0.6.
	if s == nil || !near(s.FixedCoresPerWorker, f.FixedCores/2) || math.Abs(s.CoresPerWorker-(f.FixedCores/2+0.5)) > 1e-6 {
		t.Fatalf("sizing %+v", s)
	}
	if l := s.Line(0.5); !strings.Contains(l, "MORE than the target's cores_per_worker") {
		t.Errorf("line %q", l)
	}
	if cpuSizing(cells, 8, 4, 1) != nil {
		t.Error("no cell of 8 partitions: want no sizing")
	}
}
