package probe

import (
	"os"
	"testing"
	"time"

	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim"
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
	m := newCPUMeter(Sources{Processes: []stack.Process{{Name: "engine-0"}}}, nil, 0)
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

// TestCPUMeterIntervals: the meter closes an interval at each reading the
// profile was cut at, with each process's exact CPU over it (ticks), the
// profile's samples over it, the offered and acknowledged rates; the
// report's intervals split the countlab process by those samples.
func TestCPUMeterIntervals(t *testing.T) {
	m := newCPUMeter(Sources{Processes: []stack.Process{{Name: reports.HarnessProcess, Self: true}, {Name: "engine-0"}, {Name: "influxd"}}},
		sim.Constant(1000), time.Minute)
	t0 := time.Unix(1_700_000_000, 0)
	m.begin(t0)
	m.rotate(true) // no real profile: the readings carry the samples
	clear(m.samples)
	m.profErr = nil
	at := func(s int, self, eng, infl, acked int64, samples map[string]int64) *reading {
		return &reading{now: t0.Add(time.Duration(s) * time.Second), prog: sim.Progress{Acked: acked}, rotated: samples != nil, samples: samples,
			procs: []procReading{{pid: 1, stat: procStat{ticks: self}, statOK: true}, {pid: 2, stat: procStat{ticks: eng}, statOK: true},
				{pid: 3, stat: procStat{ticks: infl}, statOK: true}}}
	}
	m.sample(at(0, 100, 1000, 50, 0, nil))
	if m.due(t0.Add(4 * time.Second)) {
		t.Fatal("due before the interval's end")
	}
	if !m.due(t0.Add(5 * time.Second)) {
		t.Fatal("not due at the interval's end")
	}
	// 0-5 s: countlab 2 s (engine stage 3/4 of the samples), engine-0 1 s, influxd 0.5 s.
	m.sample(at(5, 300, 1100, 100, 5000, map[string]int64{reports.StageEngine: 150, reports.StageHarness: 50}))
	m.sample(at(7, 400, 1200, 110, 7000, nil)) // a tick inside the next interval
	// 5-10 s: countlab 2 s, harness only.
	m.sample(at(10, 500, 1300, 120, 10000, map[string]int64{reports.StageHarness: 10}))
	if len(m.intervals) != 2 {
		t.Fatalf("%d intervals, want 2: %+v", len(m.intervals), m.intervals)
	}
	iv := m.intervals[0]
	if iv.FromS != 0 || iv.ToS != 5 || iv.AchievedEventsPerS != 1000 || iv.OfferedEventsPerS != 1000 || len(iv.Processes) != 3 {
		t.Fatalf("interval 0: %+v", iv)
	}
	want := map[string]float64{reports.HarnessProcess: 2, "engine-0": 1, "influxd": 0.5}
	for _, p := range iv.Processes {
		if d := p.CPUS - want[p.Name]; d > 1e-9 || d < -1e-9 {
			t.Errorf("interval 0: %s %.3f CPU s, want %.3f", p.Name, p.CPUS, want[p.Name])
		}
	}
	if iv := m.intervals[1]; iv.FromS != 5 || iv.ToS != 10 || iv.Processes[0].CPUS != 2 || iv.Processes[1].CPUS != 2 || iv.StageSamples[reports.StageHarness] != 10 {
		t.Fatalf("interval 1: %+v", iv)
	}
	c := m.result(t0.Add(10*time.Second), 10000)
	if len(c.Intervals) != 2 || len(c.ByRate) != 1 {
		t.Fatalf("report intervals %+v, by rate %+v", c.Intervals, c.ByRate)
	}
	s0 := c.Intervals[0]
	// engine: engine-0's 1 s (exact) + 3/4 of countlab's 2 s (estimated), over 5 s.
	for _, sc := range s0.Stages {
		switch sc.Stage {
		case reports.StageEngine:
			if d := sc.Cores - 0.5; d > 1e-9 || d < -1e-9 || sc.Exact {
				t.Errorf("engine %+v, want 0.5 cores, estimated", sc)
			}
		case reports.StageInfluxd:
			if d := sc.Cores - 0.1; d > 1e-9 || d < -1e-9 || !sc.Exact {
				t.Errorf("influxd %+v, want 0.1 cores, exact", sc)
			}
		case reports.StageHarness:
			if d := sc.Cores - 0.1; d > 1e-9 || d < -1e-9 {
				t.Errorf("harness %+v, want 0.1 cores", sc)
			}
		default:
			t.Errorf("unexpected stage %+v", sc)
		}
	}
	if d := s0.Cores - 0.7; d > 1e-9 || d < -1e-9 {
		t.Errorf("interval 0 cores %.3f, want 0.7", s0.Cores)
	}
}

// TestCPUMeterRotate: cutting the profile stops it and starts the next
// one; the last cut stops it for good (another profile can start).
func TestCPUMeterRotate(t *testing.T) {
	m := newCPUMeter(Sources{}, nil, 0)
	m.begin(time.Now())
	if m.profErr != nil {
		t.Skipf("a CPU profile is already running: %v", m.profErr)
	}
	if _, err := m.rotate(false); err != nil || m.prof == nil || m.profErr != nil {
		t.Fatalf("rotate: %v; profile %v, %v", err, m.prof, m.profErr)
	}
	if _, err := m.rotate(true); err != nil || m.prof != nil {
		t.Fatalf("last rotate: %v; profile %v", err, m.prof)
	}
	p, err := startCPUProfile()
	if err != nil {
		t.Fatalf("the meter's profile still runs: %v", err)
	}
	if _, err := p.stop(reports.StageLabel); err != nil {
		t.Fatal(err)
	}
}
