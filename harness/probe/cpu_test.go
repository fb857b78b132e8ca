package probe

import (
	"os"
	"testing"
	"time"

	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/reports"
)

func TestParseProcStat(t *testing.T) {
	// A command with a space and a parenthesis: fields are counted after
	// the last ')'. utime 1234, stime 56.
	// rss (field 24) 200 pages.
	line := "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 56 0 0 20 0 8 0 12345 1000000 200 18446744073709551615\n"
	got, err := parseProcStat([]byte(line), 4096)
	if err != nil || got.ticks != 1290 || got.rssBytes != 200*4096 {
		t.Fatalf("parseProcStat = %+v, %v; want 1290 ticks, 200 pages", got, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x 0 0 0 0 0 0 0 0 0 0 0",
		"1 (x) S 1 2 3 4 5 6 7 8 9 10 1 0 0 0 0 0 0 0 0 0 x 0"} {
		if _, err := parseProcStat([]byte(bad), 4096); err == nil {
			t.Errorf("parseProcStat(%q): want an error", bad)
		}
	}
	self, err := readProcStat(os.Getpid())
	if err != nil || self.ticks < 0 || self.rssBytes <= 0 {
		t.Fatalf("readProcStat(self) = %+v, %v", self, err)
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
		stack.LabelStage(reports.StageEngine)
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
	m := newCPUMeter(Sources{Processes: []stack.Process{{Name: "engine-0"}}})
	at := func(pid int, ticks int64) *reading {
		return &reading{procs: []procReading{{pid: pid, stat: procStat{ticks: ticks}, statOK: true}}}
	}
	m.sample(at(10, 500))
	m.sample(at(10, 650)) // 1.5 s, then killed and restarted as 11
	m.sample(at(11, 30))
	got := m.cpuS()
	if len(got) != 1 || len(got[0].PIDs) != 2 || got[0].CPUS != 1.8 {
		t.Fatalf("cpuS = %+v; want 1.8 s over pids 10 and 11", got)
	}
}
