package probe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/reports"
)

func TestParseProcStat(t *testing.T) {
	// A command with a space and a parenthesis: fields are counted after
	// the last ')'. utime 1234, stime 56.
	line := "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 56 0 0 20 0 8 0 12345 1000000 200 18446744073709551615\n"
	got, err := parseProcStat([]byte(line))
	if err != nil || got != 1290 {
		t.Fatalf("parseProcStat = %d, %v; want 1290", got, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x 0"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q): want an error", bad)
		}
	}
	self, err := readCPUTicks(os.Getpid())
	if err != nil || self < 0 {
		t.Fatalf("readCPUTicks(self) = %d, %v", self, err)
	}
}

// TestCPUProfileStages burns CPU in a goroutine labelled as the engine
// (and one it starts, which inherits the label) for about a second: the
// profile attributes most samples to it.
func TestCPUProfileStages(t *testing.T) {
	p, err := startCPUProfile()
	if err != nil {
		t.Skipf("a CPU profile is already running: %v", err)
	}
	done := make(chan struct{})
	burn := func() {
		deadline := time.Now().Add(time.Second)
		x := 1.0
		for time.Now().Before(deadline) {
			for i := 0; i < 1000; i++ {
				x = x*1.0000001 + 1e-9
			}
		}
		_ = x
	}
	go func() {
		defer close(done)
		labelStage(reports.StageEngine)
		inner := make(chan struct{})
		go func() { defer close(inner); burn() }() // inherits the label
		burn()
		<-inner
	}()
	<-done
	samples, err := p.stop(reports.StageLabel)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, n := range samples {
		total += n
	}
	t.Logf("samples by stage: %v", samples)
	if total < 20 {
		t.Skipf("only %d samples (a loaded machine): nothing to judge", total)
	}
	if share := float64(samples[reports.StageEngine]) / float64(total); share < 0.6 {
		t.Fatalf("engine share %.2f of %d samples; want most: %v", share, total, samples)
	}
	c := reports.NewCPU(reports.CPUInput{WindowS: 2, Events: 1000, Self: reports.HarnessProcess,
		Processes: []reports.ProcessCPUTime{{Name: reports.HarnessProcess, PIDs: []int{os.Getpid()}, CPUS: 2}}, StageSamples: samples})
	if s := c.Stage(reports.StageEngine); s == nil || s.CPUS < 1.2 || c.SUT.CPUS < 1.2 {
		t.Fatalf("cpu %+v", c)
	}
}

func TestCPUMeterRestartedPID(t *testing.T) {
	ticks := map[int]int64{10: 500, 11: 0}
	pid := 10
	m := &cpuMeter{procs: []resourceProc{{name: "engine-0", pid: func() int { return pid }}}, ticks: func(p int) (int64, error) { return ticks[p], nil },
		first: map[string]map[int]int64{}, last: map[string]map[int]int64{}, pids: map[string][]int{}}
	m.sample()
	ticks[10] = 650 // 1.5 s, then killed and restarted as 11
	m.sample()
	pid, ticks[11] = 11, 30
	m.sample()
	got := m.cpuS()
	if len(got) != 1 || len(got[0].PIDs) != 2 || got[0].CPUS != 1.8 {
		t.Fatalf("cpuS = %+v; want 1.8 s over pids 10 and 11", got)
	}
}

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
