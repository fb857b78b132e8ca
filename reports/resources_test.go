package reports

import (
	"math"
	"strings"
	"testing"
	"time"
)

// line is n points a second apart of v(i).
func line(n int, v func(i int) float64) []Point {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pts := make([]Point, n)
	for i := range pts {
		pts[i] = Point{T: t0.Add(time.Duration(i) * time.Second), V: v(i)}
	}
	return pts
}

func TestSlopePerHour(t *testing.T) {
	f := func(name string, pts []Point, warmup, want, wantFrom float64) {
		t.Helper()
		got, from := SlopePerHour(pts, warmup)
		if math.Abs(got-want) > 1e-3*math.Max(1, math.Abs(want)) || from != wantFrom {
			t.Errorf("%s: slope %v from %v s, want %v from %v s", name, got, from, want, wantFrom)
		}
	}
	f("flat", line(100, func(int) float64 { return 50 }), 0.2, 0, 19.8)
	f("1 MiB a second", line(101, func(i int) float64 { return 100 + float64(i) }), 0, 3600, 0)
	f("falling", line(61, func(i int) float64 { return 100 - float64(i)/60 }), 0.5, -60, 30)
	// A warm-up climb is left out of the fit.
	f("warm-up", line(101, func(i int) float64 { return math.Min(float64(i), 20) }), 0.2, 0, 20)
	// Noise around a slope: least squares recovers it.
	f("noise", line(200, func(i int) float64 { return 10 + 0.5*float64(i) + []float64{1, -1}[i%2] }), 0, 1800, 0)
	f("too few", line(2, func(i int) float64 { return float64(i) }), 0, 0, 0)
	f("none", nil, 0.2, 0, 0)
}

func TestProcessSamplesUsage(t *testing.T) {
	p := &ProcessSamples{Process: "engine-0", PID: 42,
		RSS:        line(61, func(i int) float64 { return 100 + float64(i)/3600 }), // 1 MiB/h
		Goroutines: line(61, func(i int) float64 { return 30 }),
	}
	u := p.Usage(0)
	if u.Process != "engine-0" || u.PID != 42 || u.RSSMiBStart != 100 || math.Abs(u.RSSMiBEnd-100-60.0/3600) > 1e-9 ||
		math.Abs(u.RSSSlopeMiBPerH-1) > 1e-6 || !u.GoroutinesMeasured || u.GoroutinesStart != 30 || u.GoroutinesEnd != 30 ||
		u.GoroutineSlopePerH != 0 || u.Samples != 61 {
		t.Errorf("usage %+v", u)
	}
	u = (&ProcessSamples{Process: "influxd", RSS: line(10, func(int) float64 { return 1 })}).Usage(0.2)
	if u.GoroutinesMeasured || u.GoroutinesStart != 0 || u.LiveHeapMiBEnd != 0 {
		t.Errorf("no goroutine or heap samples: %+v", u)
	}
	// countlab: the RSS climbs to the collector's target while the live
	// heap is flat after its warm-up; each has its own slope.
	u = (&ProcessSamples{Process: HarnessProcess,
		RSS:      line(101, func(i int) float64 { return 300 + float64(i) }),
		LiveHeap: line(101, func(i int) float64 { return math.Min(100+float64(i), 120) }),
	}).Usage(0.2)
	if u.LiveHeapMiBStart != 100 || u.LiveHeapMiBEnd != 120 || u.LiveHeapSlopeMiBPerH != 0 || math.Abs(u.RSSSlopeMiBPerH-3600) > 1e-6 {
		t.Errorf("live heap: %+v", u)
	}
}

func TestResourceSLOs(t *testing.T) {
	f := func(name string, th Thresholds, res []ResourceUsage, wantPass bool, wantRows ...string) {
		t.Helper()
		r := &Report{Accuracy: Accuracy{Exact: true}, Resources: res}
		r.EvaluateSLO(th)
		var rows []string
		for _, s := range r.SLO {
			rows = append(rows, s.Name)
		}
		if r.Pass != wantPass || strings.Join(rows, ",") != strings.Join(wantRows, ",") {
			t.Errorf("%s: pass %v rows %v, want %v %v", name, r.Pass, rows, wantPass, wantRows)
		}
	}
	res := []ResourceUsage{
		{Process: HarnessProcess, RSSSlopeMiBPerH: 900, GoroutineSlopePerH: 2, GoroutinesMeasured: true},
		{Process: "engine-0", RSSSlopeMiBPerH: 10, GoroutineSlopePerH: 0, GoroutinesMeasured: true},
		{Process: "influxd", RSSSlopeMiBPerH: 40},
	}
	f("off", Thresholds{}, res, true)
	f("harness not bounded by the RSS SLO", Thresholds{MaxRSSSlopeMiBPerH: 50, MaxGoroutineSlopePerH: 10}, res, true,
		"max_goroutine_slope_per_h (countlab)", "max_rss_slope_mib_per_h (engine-0)", "max_goroutine_slope_per_h (engine-0)",
		"max_rss_slope_mib_per_h (influxd)")
	f("influxd grows", Thresholds{MaxRSSSlopeMiBPerH: 20}, res, false, "max_rss_slope_mib_per_h (engine-0)", "max_rss_slope_mib_per_h (influxd)")
	f("harness bound", Thresholds{MaxHarnessRSSSlopeMiBPerH: 500}, res, false, "max_harness_rss_slope_mib_per_h (countlab)")
	f("goroutine leak", Thresholds{MaxGoroutineSlopePerH: 1}, res, false, "max_goroutine_slope_per_h (countlab)", "max_goroutine_slope_per_h (engine-0)")
}

func TestResourcesReport(t *testing.T) {
	rss := line(30, func(i int) float64 { return 100 + float64(i) })
	r := &Report{Scenario: "soak", Pass: true,
		Resources: []ResourceUsage{(&ProcessSamples{Process: "engine-0", PID: 7, RSS: rss}).Usage(0.2)},
		Faults:    []FaultRecord{{Name: "f", InjectedAt: TimeOf(rss[5].T), HealedAt: TimeOf(rss[9].T)}},
		Series:    &TimeSeries{RSS: []Series{{Name: "engine-0", Points: rss}}, Goroutines: []Series{{Name: "engine-0", Points: rss}}},
	}
	// Without a growth SLO (a short run), no slopes: a 30 s fit
	// extrapolated to an hour says little.
	md := r.Markdown()
	if !strings.Contains(md, "## Resources") || !strings.Contains(md, "| engine-0 | 7 | 100.0 | 129.0 | n/a | n/a | 30 |") || strings.Contains(md, "3600.0") {
		t.Errorf("report.md without a growth SLO:\n%s", md)
	}
	var short strings.Builder
	if err := r.WriteHTML(&short); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(short.String(), "RSS slope") || strings.Contains(short.String(), "3600.0") {
		t.Error("report.html without a growth SLO shows slopes")
	}
	// A soak bounds growth: slopes shown.
	r.SLO = []SLOResult{{Name: "max_rss_slope_mib_per_h (engine-0)", Kind: "max", Threshold: 100, Value: 3600}}
	md = r.Markdown()
	if !strings.Contains(md, "| engine-0 | 7 | 100.0 | 129.0 | 3600.0 | n/a |") {
		t.Errorf("report.md with a growth SLO:\n%s", md)
	}
	var html strings.Builder
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h2>Resources</h2>", "resident memory over time", "goroutines over time", "<td>engine-0</td>"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}
