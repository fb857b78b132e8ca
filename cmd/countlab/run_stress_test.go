package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// longE2E runs the shipped soak-short at its full 90 s (env
// COUNTLAB_E2E_LONG=1); by default it runs shortened.
func longE2E() bool { return os.Getenv("COUNTLAB_E2E_LONG") == "1" }

// checkExact wants every acknowledged event counted exactly once.
func checkExact(t *testing.T, rep *reports.Report) {
	t.Helper()
	a := rep.Accuracy
	if !a.Exact || a.ExpectedEvents == 0 || a.CountedEvents != a.ExpectedEvents || a.Lost != 0 || a.Duplicated != 0 || a.MismatchedWindows != 0 {
		t.Fatalf("not exact: %+v", a)
	}
}

// TestRunSoakShort runs soak-short (30 s, or its full 90 s with
// COUNTLAB_E2E_LONG=1) with the engine workers as processes: the report
// holds each process's memory and goroutines with their slopes, the SLO
// rows of the growth bounds, the memory series and chart, and exact
// accuracy. Then (not -short) a run with a bound no process can hold
// fails with exit 1 naming it.
func TestRunSoakShort(t *testing.T) {
	influx := testInflux(t)
	bin := buildCountlab(t)
	engineBinary = func() (string, error) { return bin, nil }
	defer func() { engineBinary = os.Executable }()
	d := 30 * time.Second
	if longE2E() {
		d = 0
	}
	hook := func(sc *scenarios.Scenario) {
		sc.Traffic.Keys.Prefix = "soak-"
		if d > 0 {
			sc.Duration = d
		}
		sc.SLO.MinThroughputEventsPerS = 0 // a loaded CI machine
	}
	err, rep, dir := runScenario(t, hook, append([]string{"soak-short"}, influx...)...)
	if err != nil {
		t.Fatalf("run soak-short: %v", err)
	}
	checkExact(t, rep)
	if !rep.Pass {
		t.Fatalf("soak-short failed: %v", rep.Failed())
	}
	want := map[string]bool{reports.HarnessProcess: true, "engine-0": true, "engine-1": true}
	minSamples := int(rep.DurationS) - 5
	for _, u := range rep.Resources {
		if !want[u.Process] {
			continue
		}
		delete(want, u.Process)
		if u.PID <= 0 || u.Samples < minSamples || u.RSSMiBStart <= 0 || u.RSSMiBEnd <= 0 || !u.GoroutinesMeasured || u.GoroutinesEnd <= 0 {
			t.Errorf("resources of %s: %+v (want >= %d samples)", u.Process, u, minSamples)
		}
		t.Logf("%s: RSS %.1f -> %.1f MiB (%+.0f MiB/h), goroutines %d -> %d (%+.0f/h), %d samples", u.Process, u.RSSMiBStart, u.RSSMiBEnd,
			u.RSSSlopeMiBPerH, u.GoroutinesStart, u.GoroutinesEnd, u.GoroutineSlopePerH, u.Samples)
	}
	if len(want) > 0 {
		t.Fatalf("no resources of %v in %+v", want, rep.Resources)
	}
	var rssRows, gorRows int
	for _, s := range rep.SLO {
		switch {
		case strings.HasPrefix(s.Name, "max_rss_slope_mib_per_h (engine-"):
			rssRows++
		case strings.HasPrefix(s.Name, "max_goroutine_slope_per_h ("):
			gorRows++
		case strings.Contains(s.Name, "("+reports.HarnessProcess+")") && strings.HasPrefix(s.Name, "max_rss"):
			t.Errorf("the harness's memory is bounded by %s", s.Name)
		}
	}
	if rssRows != 2 || gorRows < 3 {
		t.Errorf("SLO rows: %d RSS, %d goroutine; want 2 and >= 3: %+v", rssRows, gorRows, rep.SLO)
	}
	if s := rep.Series; s == nil || len(s.RSS) < 3 || len(s.Goroutines) < 3 {
		t.Errorf("report.json series lacks the memory and goroutine series: %+v", s)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var top struct {
		Resources []map[string]any `json:"resources"`
	}
	if err := json.Unmarshal(raw, &top); err != nil || len(top.Resources) == 0 {
		t.Fatalf("report.json resources: %v", err)
	}
	for _, k := range []string{"process", "pid", "rss_mib_start", "rss_mib_end", "rss_slope_mib_per_h", "goroutines_start", "goroutines_end", "goroutine_slope_per_h"} {
		if _, ok := top.Resources[0][k]; !ok {
			t.Errorf("report.json resources lack %q", k)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if !strings.Contains(string(md), "## Resources") || !strings.Contains(string(html), "resident memory over time") {
		t.Errorf("report.md or report.html lack the resources")
	}

	if testing.Short() {
		return
	}
	// A bound no process holds in a short run: the run fails, exit 1.
	tight := func(sc *scenarios.Scenario) {
		hook(sc)
		sc.Traffic.Keys.Prefix = "soak-tight-"
		sc.Duration = 12 * time.Second
		sc.SLO.MaxRSSSlopeMiBPerH = 0.001
	}
	err, rep, _ = runScenario(t, tight, append([]string{"soak-short"}, influx...)...)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(err.Error(), "max_rss_slope_mib_per_h (engine-") {
		t.Fatalf("run with a tight memory bound: %v, want exit 1 naming max_rss_slope_mib_per_h", err)
	}
	if rep == nil || rep.Pass {
		t.Fatal("the report passed")
	}
	checkExact(t, rep)
}

// TestRunStressShort runs stress shortened (a 15 s ramp from 5k to 120k
// events/s): the report's saturation object holds every signal, and when
// a stage crossed its rule, the rates then; every acknowledged event is
// counted exactly. The shipped stress (60 s to 800k events/s) is a
// measurement: `countlab run stress`.
func TestRunStressShort(t *testing.T) {
	if testing.Short() {
		t.Skip("short: the stress run saturates the machine for about a minute")
	}
	influx := testInflux(t)
	hook := func(sc *scenarios.Scenario) {
		hot := map[string]int{} // engine.hot_keys names keys with the prefix
		for k, n := range sc.Engine.HotKeys {
			hot["stress-"+strings.TrimPrefix(k, sc.Traffic.Keys.Prefix)] = n
		}
		sc.Traffic.Keys.Prefix, sc.Engine.HotKeys = "stress-", hot
		sc.Duration = 15 * time.Second
		sc.Traffic.Rate.EventsPerS, sc.Traffic.Rate.ToEventsPerS, sc.Traffic.Rate.Over = 5000, 120000, 15*time.Second
		sc.DrainTimeout = 120 * time.Second
	}
	err, rep, dir := runScenario(t, hook, append([]string{"stress"}, influx...)...)
	if err != nil {
		t.Fatalf("run stress: %v", err)
	}
	checkExact(t, rep)
	s := rep.Saturation
	if s == nil || len(s.Signals) != 7 || s.Samples < 10 || s.PeakAchievedEventsPerS <= 0 {
		t.Fatalf("saturation %+v", s)
	}
	stages := map[string]bool{}
	for _, g := range s.Signals {
		stages[g.Stage] = true
		if g.Rule == "" || g.Crossed != (g.CrossedAtS >= 0) {
			t.Errorf("signal %+v", g)
		}
	}
	if len(stages) != 5 {
		t.Errorf("stages %v", stages)
	}
	for _, sig := range []string{"sender_lag", "request_p99", "produce_p99", "events_lag", "aggregates_lag"} {
		for _, g := range s.Signals {
			if g.Signal == sig && !g.Measured {
				t.Errorf("signal %s not measured", sig)
			}
		}
	}
	if s.First != "" {
		if s.AtS <= 0 || s.AtOfferedEventsPerS <= 0 {
			t.Errorf("first %s at %v s, offered %v", s.First, s.AtS, s.AtOfferedEventsPerS)
		}
	}
	t.Logf("saturation: %s", s.Text())
	// The ceiling: the sustainable rate, and (when a window broke) the
	// stage that limits it with the CPU by stage then; the CPU by stage
	// against the offered rate.
	su := s.Sustainable
	if su == nil {
		t.Fatal("no sustainable rate")
	}
	t.Logf("ceiling: %s; %s", su.CeilingText(), su.LimitingEvidence)
	if su.BrokeAtS >= 0 && (su.LimitingStage == "" || su.LimitingSignal == "" || su.LimitingEvidence == "") {
		t.Errorf("a window broke at %v s but no limiting stage: %+v", su.BrokeAtS, su)
	}
	c := rep.CPU
	if c == nil || len(c.Intervals) < 2 || len(c.ByRate) < 2 {
		t.Fatalf("cpu by stage over time: %+v", c)
	}
	for _, st := range c.ByRate {
		t.Logf("offered %.0f events/s: %.2f cores (%v)", st.OfferedEventsPerS, st.Cores, st.Stages)
		if st.Cores <= 0 || len(st.Stages) == 0 {
			t.Errorf("step %+v: no CPU", st)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, want := range []string{"## Saturation", "### Ceiling", "### CPU by stage against the offered rate"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, want := range []string{"<h3>Ceiling</h3>", `alt="CPU by stage against the offered rate"`} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	var top struct {
		Saturation map[string]any `json:"saturation"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"first", "at_offered_events_per_s", "at_achieved_events_per_s", "at_s", "signals", "peak_achieved_events_per_s"} {
		if _, ok := top.Saturation[k]; !ok {
			t.Errorf("report.json saturation lacks %q", k)
		}
	}
	sus, _ := top.Saturation["sustainable"].(map[string]any)
	for _, k := range []string{"events_per_s", "broke_at_s", "limited_by", "limiting_stage", "cpu_at_break"} {
		if _, ok := sus[k]; !ok && (su.BrokeAtS >= 0 || k == "events_per_s" || k == "broke_at_s") {
			t.Errorf("report.json saturation.sustainable lacks %q", k)
		}
	}
}

// TestStressSoakScenarioFields: the shipped stress, soak and soak-short
// carry their saturation rules and growth bounds, and a bad value of a new
// field is named with its path.
func TestStressSoakScenarioFields(t *testing.T) {
	for _, n := range []string{"stress", "soak", "soak-short"} {
		sc, err := scenarios.Lookup(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		switch n {
		case "stress":
			if sc.Saturation.EngineLagS != 2 || sc.Traffic.Rate.Shape != "ramp" || !sc.SLO.AccuracyExact {
				t.Errorf("stress: %+v %+v", sc.Saturation, sc.Traffic.Rate)
			}
		default:
			if !sc.Engine.Processes || sc.SLO.MaxRSSSlopeMiBPerH <= 0 || sc.SLO.MaxGoroutineSlopePerH <= 0 || sc.SLO.ResourceWarmup <= 0 {
				t.Errorf("%s: engine %+v slo %+v", n, sc.Engine, sc.SLO)
			}
		}
	}
	base, err := scenarios.Shipped("soak-short")
	if err != nil {
		t.Fatal(err)
	}
	f := func(extra, wantPath string) {
		t.Helper()
		_, err := scenarios.Parse("x.yaml", append(append([]byte(nil), base...), []byte(extra)...))
		if err == nil || !strings.Contains(err.Error(), wantPath) {
			t.Errorf("%q: %v, want an error naming %s", extra, err, wantPath)
		}
	}
	f("saturation: {sender_busy: 1.5}\n", "saturation.sender_busy")
	f("saturation: {engine_lag_s: -1}\n", "saturation.engine_lag_s")
	f("saturation: {sustain: -2}\n", "saturation.sustain")
	f("saturation: {no_such: 1}\n", "no_such")
	g := func(old, new, wantPath string) {
		t.Helper()
		_, err := scenarios.Parse("x.yaml", []byte(strings.Replace(string(base), old, new, 1)))
		if err == nil || !strings.Contains(err.Error(), wantPath) {
			t.Errorf("%q: %v, want an error naming %s", new, err, wantPath)
		}
	}
	g("resource_warmup: 0.3", "resource_warmup: 1.5", "slo.resource_warmup")
	g("max_rss_slope_mib_per_h: 12000", "max_rss_slope_mib_per_h: -1", "slo.max_rss_slope_mib_per_h")
	g("max_goroutine_slope_per_h: 10000", "max_goroutine_slope_per_h: -5", "slo.max_goroutine_slope_per_h")
}
