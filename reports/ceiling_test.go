package reports

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// rampRun is a 30 s ramp (4k events/s more each second) whose freshness
// breaks past 50k (TestSustainableRate), with CPU intervals of 5 s: the
// countlab process (3/4 engine, 1/4 harness by its samples) busier with
// the rate, influxd steady.
func rampRun(t0 time.Time) (*TimeSeries, *CPU) {
	ts := &TimeSeries{}
	var tracers []Point
	for i := 1; i <= 30; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		offered := float64(i) * 4000
		ts.Offered = append(ts.Offered, Point{T: at, V: offered})
		ts.Achieved = append(ts.Achieved, Point{T: at, V: math.Min(offered, 60000)})
		fresh := 200.0
		if offered > 50000 {
			fresh = 2000
		}
		tracers = append(tracers, Point{T: at, V: fresh})
	}
	ts.Latency = []LatencySeries{{Kind: "freshness", Percentiles: []Series{{Name: "each tracer", Points: tracers}}}}
	var ivs []CPUInterval
	for k := range 6 {
		from, to := float64(5*k), float64(5*k+5)
		offered := (from + 3) * 4000 // the mean of seconds from+1..to
		ivs = append(ivs, CPUInterval{FromS: from, ToS: to, OfferedEventsPerS: offered, AchievedEventsPerS: math.Min(offered, 60000),
			Processes:    []ProcessCPUTime{{Name: HarnessProcess, CPUS: 0.4 * float64(k+1)}, {Name: "influxd", CPUS: 0.5}},
			StageSamples: map[string]int64{StageEngine: 30, StageHarness: 10}})
	}
	cpu := NewCPU(CPUInput{WindowS: 30, Events: 1_000_000, Self: HarnessProcess, Intervals: ivs,
		Processes: []ProcessCPUTime{{Name: HarnessProcess, CPUS: 8.4}, {Name: "influxd", CPUS: 3}}, StageSamples: map[string]int64{StageEngine: 30, StageHarness: 10}})
	return ts, cpu
}

// TestCeiling: the stress report names the sustainable rate and the stage
// that limits it, from the rule that crossed near the break (1), else the
// signal nearest its threshold (2), else the stage with the most CPU (3),
// in report.json, report.md, report.html and the summary.
func TestCeiling(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	ts, cpu := rampRun(t0)
	if len(cpu.Intervals) != 6 || len(cpu.ByRate) != 6 {
		t.Fatalf("intervals %d, by rate %d; want 6 and 6", len(cpu.Intervals), len(cpu.ByRate))
	}
	// Interval 2 (10-15 s): countlab 1.2 s, 3/4 engine; influxd 0.5 s.
	if iv := cpu.Intervals[2]; !near(iv.Stage(StageEngine), 0.18) || !near(iv.Stage(StageInfluxd), 0.1) || !near(iv.Cores, 0.34) || !near(iv.SUTCores, 0.28) {
		t.Fatalf("interval 2 %+v", iv)
	}
	sat := &Saturation{First: StageEngine, FirstSignal: "events_lag", Signals: []SaturationSignal{
		{Stage: StageGateway, Signal: "throttled", Crossed: true, CrossedAtS: 1, Measured: true}, // long before: not the cause
		{Stage: StageEngine, Signal: "events_lag", Crossed: true, CrossedAtS: 15, Value: 2.5, Unit: "s", Rule: "engine lag", Measured: true},
		{Stage: StageSink, Signal: "aggregates_lag", Crossed: true, CrossedAtS: 15, Value: 3, Unit: "s", Rule: "sink lag", Measured: true},
	}}
	s := SustainableRate(ts, 1000)
	s.Attribute(sat, cpu)
	if s.EventsPerS != 40000 || s.LimitedBy != "freshness" || s.BrokeAtS != 13 || s.BrokeOfferedEventsPerS != 44000 {
		t.Fatalf("sustainable %+v", s)
	}
	// Both crossed at 15 s: the one further downstream is named.
	if s.LimitingStage != StageSink || s.LimitingSignal != "aggregates_lag" || !strings.Contains(s.LimitingEvidence, "crossed at 15 s") {
		t.Fatalf("limiting %q %q: %s", s.LimitingStage, s.LimitingSignal, s.LimitingEvidence)
	}
	// The break window 8-13 s: 2/5 of interval 1 (5-10) and 3/5 of interval 2 (10-15).
	if b := s.CPUAtBreak; b == nil || !near(b.Seconds, 5) || !near(b.Stage(StageEngine), (0.12*2+0.18*3)/5) {
		t.Fatalf("cpu at break %+v", b)
	}
	sat.Signals = sat.Signals[:2]
	s.Attribute(sat, cpu)
	if s.LimitingStage != StageEngine || s.LimitingSignal != "events_lag" {
		t.Fatalf("limiting %q %q", s.LimitingStage, s.LimitingSignal)
	}
	sat.Signals[1].CrossedAtS = 40 // long after: rule 2
	sat.Series = []Series{
		{Name: "sink aggregates_lag", Points: []Point{{T: t0.Add(10 * time.Second), V: 0.9}, {T: t0.Add(12 * time.Second), V: 0.7}, {T: t0.Add(20 * time.Second), V: 0.1}}},
		{Name: "broker produce_p99", Points: []Point{{T: t0.Add(10 * time.Second), V: 0.2}}},
	}
	s.Attribute(sat, cpu)
	if s.LimitingStage != StageSink || s.LimitingSignal != "aggregates_lag" || !strings.Contains(s.LimitingEvidence, "0.80×") {
		t.Fatalf("rule 2: %q %q: %s", s.LimitingStage, s.LimitingSignal, s.LimitingEvidence)
	}
	sat.Series = nil
	s.Attribute(sat, cpu) // rule 3: the most CPU of the system under test
	if s.LimitingStage != StageEngine || s.LimitingSignal != "cpu" || !strings.Contains(s.LimitingEvidence, "engine used the most CPU") {
		t.Fatalf("rule 3: %q %q: %s", s.LimitingStage, s.LimitingSignal, s.LimitingEvidence)
	}
	busy := func(v float64) {
		sat.MachineBusy = nil
		for i := 1; i <= 30; i++ {
			sat.MachineBusy = append(sat.MachineBusy, Point{T: t0.Add(time.Duration(i) * time.Second), V: v})
		}
	}
	busy(0.95) // a busy machine: rule 3 still
	s.Attribute(sat, cpu)
	if s.LimitingStage != StageEngine || s.LimitingSignal != "cpu" {
		t.Fatalf("rule 3 on a busy machine: %q %q: %s", s.LimitingStage, s.LimitingSignal, s.LimitingEvidence)
	}
	// The machine 30% busy over the break window: no stage is named.
	busy(0.3)
	s.Attribute(sat, cpu)
	if s.LimitingStage != "" || s.LimitingSignal != "" || !strings.Contains(s.LimitingEvidence, "not CPU-bound") || !strings.Contains(s.Text(), "beyond it") {
		t.Fatalf("rule 4: %q %q: %s; %s", s.LimitingStage, s.LimitingSignal, s.LimitingEvidence, s.Text())
	}
	if !strings.Contains(s.CeilingText(), "limiting stage not found: no stage backed up and the machine was not CPU-bound") {
		t.Fatalf("rule 4 ceiling text: %s", s.CeilingText())
	}
	if !strings.Contains(s.LimitingEvidence, "30% busy") {
		t.Fatalf("rule 4 evidence: %s", s.LimitingEvidence)
	}
	sat.MachineBusy = nil
	s.Attribute(sat, cpu)

	sat.Sustainable = s
	r := &Report{Scenario: "stress", Saturation: sat, CPU: cpu}
	md := r.Markdown()
	for _, want := range []string{"### Ceiling", "| highest sustainable rate | 40000 events/s", "| limiting stage | engine (cpu) |", "| CPU at the break |",
		"### CPU by stage against the offered rate", "| offered events/s | achieved events/s | seconds | engine | influxd | harness | all cores | SUT CPU-µs/event |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	var html strings.Builder
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h3>Ceiling</h3>", "<th>limiting stage</th><td>engine (cpu)</td>", "<h3>CPU by stage against the offered rate</h3>",
		`alt="CPU by stage against the offered rate"`} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	checkBalanced(t, "report.html", html.String())
	var sum strings.Builder
	r.WriteSummary(&sum, "report.json")
	if !strings.Contains(sum.String(), "ceiling: highest sustainable rate 40000 events/s (lag <= 2 s, freshness p99 <= 1000 ms), limited by engine (cpu)") {
		t.Errorf("summary lacks the ceiling:\n%s", sum.String())
	}
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var top struct {
		Saturation struct {
			Sustainable map[string]any `json:"sustainable"`
		} `json:"saturation"`
		CPU map[string]any `json:"cpu"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"events_per_s", "limiting_stage", "limiting_signal", "limiting_evidence", "broke_at_s", "cpu_at_break"} {
		if _, ok := top.Saturation.Sustainable[k]; !ok {
			t.Errorf("report.json saturation.sustainable lacks %q", k)
		}
	}
	for _, k := range []string{"intervals", "by_offered_rate"} {
		if _, ok := top.CPU[k]; !ok {
			t.Errorf("report.json cpu lacks %q", k)
		}
	}

	// A load that never went past the sustainable rate: nothing limits it.
	flat := &Sustainable{AtS: 10, EventsPerS: 1000, BrokeAtS: -1, MaxLagS: 2, MaxFreshnessMS: 1000, WindowS: 5}
	flat.Attribute(sat, cpu)
	if flat.LimitingStage != "" || flat.CPUAtBreak != nil || !strings.Contains(flat.CeilingText(), "never went past it") {
		t.Fatalf("flat %+v: %s", flat, flat.CeilingText())
	}
}

// TestCPUByRateBins: intervals at one rate make one bin; a partial last
// interval and one after the schedule (no offered rate) are left out; the
// chart renders.
func TestCPUByRateBins(t *testing.T) {
	var ivs []CPUStep
	for k := range 4 {
		ivs = append(ivs, CPUStep{FromS: float64(5 * k), ToS: float64(5*k + 5), Seconds: 5, OfferedEventsPerS: 50000 + float64(k*100), AchievedEventsPerS: 50000,
			Stages: []StageCores{{Stage: StageEngine, Cores: 0.2 + 0.1*float64(k)}}, Cores: 0.2 + 0.1*float64(k), SUTCores: 0.2 + 0.1*float64(k)})
	}
	ivs = append(ivs, CPUStep{FromS: 20, ToS: 20.3, Seconds: 0.3, OfferedEventsPerS: 90000, Stages: []StageCores{{Stage: StageEngine, Cores: 9}}, Cores: 9},
		CPUStep{FromS: 20.3, ToS: 25.3, Seconds: 5, AchievedEventsPerS: 9000, Stages: []StageCores{{Stage: StageEngine, Cores: 2}}, Cores: 2}) // the backlog after the schedule
	bins := binByRate(ivs)
	if len(bins) != 1 || !near(bins[0].Seconds, 20) || !near(bins[0].Stage(StageEngine), 0.35) || !near(bins[0].SUTMicrosPerEvent, 0.35e6/50000) {
		t.Fatalf("bins %+v", bins)
	}
	png, err := CPUByRateChart(bins)
	if err != nil || len(png) == 0 {
		t.Fatalf("chart: %v", err)
	}
	if _, err := CPUByRateChart(nil); err == nil {
		t.Fatal("a chart of nothing")
	}
}
