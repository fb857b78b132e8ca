package reports

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lagPoints is a lag series every 250ms: v(i) for i in [0, n).
func lagPoints(n int, v func(i int) float64) []Point {
	t0 := time.Unix(1_700_000_000, 0)
	out := make([]Point, n)
	for i := range out {
		out[i] = Point{T: t0.Add(time.Duration(i) * 250 * time.Millisecond), V: v(i)}
	}
	return out
}

func TestPlanTrialJudge(t *testing.T) {
	crit := PlanCriteria{MinAchievedRatio: 0.95, MaxLagGrowth: 0.05, MaxP99IngestAckMS: 500, MaxP99FreshnessMS: 2000}
	good := func() PlanTrial {
		return PlanTrial{OfferedEventsPerS: 10000, AchievedEventsPerS: 9990, IngestAck: Percentiles{P99: 20}, Freshness: Percentiles{P99: 300},
			Lag: lagPoints(40, func(i int) float64 { return float64(200 + 150*(i%3)) })}
	}
	f := func(name string, mod func(*PlanTrial), sustainable bool, why string) {
		t.Helper()
		tr := good()
		mod(&tr)
		tr.Judge(crit)
		if tr.Sustainable != sustainable {
			t.Errorf("%s: sustainable %v, want %v (why %v)", name, tr.Sustainable, sustainable, tr.Why)
		}
		if why != "" && !strings.Contains(strings.Join(tr.Why, "; "), why) {
			t.Errorf("%s: why %v lacks %q", name, tr.Why, why)
		}
	}
	f("keeps up", func(*PlanTrial) {}, true, "")
	f("falls behind", func(t *PlanTrial) { t.AchievedEventsPerS = 9000 }, false, "answered 9000 of 10000 events/s (acknowledged 9000")
	// A tenth refused by the contract (malformed traffic): answered, so it keeps up.
	f("refuses malformed", func(t *PlanTrial) { t.AchievedEventsPerS, t.Acked, t.Rejected = 9000, 90000, 9990 }, true, "")
	f("refuses and falls behind", func(t *PlanTrial) { t.AchievedEventsPerS, t.Acked, t.Rejected = 8000, 80000, 1000 }, false, "answered 8100 of 10000 events/s (acknowledged 8000")
	// 10% of the rate a second: 1000 records/s, 250 per sample.
	f("lag grows", func(t *PlanTrial) { t.Lag = lagPoints(40, func(i int) float64 { return float64(250 * i) }) }, false, "consumer lag grew 1000 records/s")
	f("lag grows slowly", func(t *PlanTrial) { t.Lag = lagPoints(40, func(i int) float64 { return float64(2000 + 10*i) }) }, true, "")
	f("lag high but flat", func(t *PlanTrial) { t.Lag = lagPoints(40, func(i int) float64 { return 50000 }) }, true, "")
	f("lag small and noisy", func(t *PlanTrial) {
		t.Lag = lagPoints(12, func(i int) float64 { return float64(300 * (i % 4)) })
	}, true, "")
	f("ack slo", func(t *PlanTrial) { t.IngestAck.P99 = 800 }, false, "p99 ingest ack 800 ms > 500")
	f("freshness slo", func(t *PlanTrial) { t.Freshness.P99 = 2500 }, false, "p99 freshness 2500 ms > 2000")
	f("tracers missed", func(t *PlanTrial) { t.TracersMissed = 2 }, false, "2 tracer events")
	f("failed events", func(t *PlanTrial) { t.Failed = 3 }, false, "3 events failed")
	if tr := good(); true {
		tr.Judge(crit)
		if math.Abs(tr.AchievedRatio-0.999) > 1e-9 || tr.LagMax != 500 {
			t.Errorf("ratio %v lag max %v", tr.AchievedRatio, tr.LagMax)
		}
	}
}

func TestZipfTopShareAndPow2(t *testing.T) {
	f := func(n, s, want float64) {
		t.Helper()
		if got := zipfTopShare(n, s); math.Abs(got-want) > 1e-6*want {
			t.Errorf("zipfTopShare(%v, %v) = %v, want %v", n, s, got, want)
		}
	}
	f(1, 1.1, 1)
	f(4, 0, 0.25)
	f(3, 1, 1/(1+0.5+1.0/3))
	// Past the exact sum: the tail approximation against a direct sum.
	var h float64
	for k := 3e6; k >= 1; k-- {
		h += math.Pow(k, -1.1)
	}
	f(3e6, 1.1, 1/h)
	for n, want := range map[int]int{1: 1, 2: 2, 3: 4, 8: 8, 9: 16, 100: 128} {
		if got := nextPow2(n); got != want {
			t.Errorf("nextPow2(%d) = %d", n, got)
		}
	}
}

// planCells is a measured grid from a known USL per partition count.
func planCells(u4, u8 USL, workers ...int) []PlanCell {
	var out []PlanCell
	for _, p := range []struct {
		n int
		u USL
	}{{4, u4}, {8, u8}} {
		for _, w := range workers {
			x := p.u.X(float64(w))
			out = append(out, PlanCell{Partitions: p.n, Workers: w, MaxSustainableEventsPerS: x, FirstUnsustainableEventsPerS: 1.1 * x,
				Trials: []PlanTrial{
					{Phase: "ramp", OfferedEventsPerS: x / 2, AchievedEventsPerS: x / 2, Sustainable: true, IngestAck: Percentiles{P99: 10}, Freshness: Percentiles{P99: 100}},
					{Phase: "ramp", OfferedEventsPerS: x * 1.1, AchievedEventsPerS: x, Why: []string{"lag grew"}, IngestAck: Percentiles{P99: 900}, Freshness: Percentiles{P99: 5000}},
					{Phase: "search", OfferedEventsPerS: x, AchievedEventsPerS: x, Sustainable: true, IngestAck: Percentiles{P99: 30}, Freshness: Percentiles{P99: 400}},
				}})
		}
	}
	return out
}

func TestRecommend(t *testing.T) {
	target := PlanTarget{EventsPerDay: 1e9, PeakFactor: 5, Keys: 2e6, ZipfS: 1.1, CoresPerNode: 8, CoresPerWorker: 1, Headroom: 0.3}
	u4 := USL{Lambda: 10000, Sigma: 0.05, Kappa: 0.0005}
	u8 := USL{Lambda: 12000, Sigma: 0.03, Kappa: 0.0002}
	cells := planCells(u4, u8, 1, 2, 4)
	fits := FitCells(cells)
	if len(fits) != 2 || fits[0].Fit == nil || fits[0].Fit.Method != "full" {
		t.Fatalf("fits %+v", fits)
	}
	rec := Recommend(target, fits, cells)
	req := 1e9 / 86400 * 5 / 0.7
	if math.Abs(rec.RequiredEventsPerS-req) > 1e-6 || rec.FitPartitions != 8 || rec.BeyondPeak {
		t.Fatalf("recommendation %+v", rec)
	}
	want, _ := u8.WorkersFor(req, 1000)
	if rec.Workers != want || rec.Partitions < rec.Workers || rec.Partitions&(rec.Partitions-1) != 0 || rec.Machines != (want+7)/8 {
		t.Fatalf("workers %d (want %d), partitions %d, machines %d", rec.Workers, want, rec.Partitions, rec.Machines)
	}
	// Beyond the peak: a curve topping out under the target.
	low := USL{Lambda: 5000, Sigma: 0.2, Kappa: 0.05}
	cells = planCells(low, low, 1, 2, 3, 4)
	rec = Recommend(target, FitCells(cells), cells)
	if !rec.BeyondPeak || rec.Workers != 0 || rec.CurvePeakWorkers <= 0 || rec.Pipelines < 2 || rec.WorkersPerPipeline != int(math.Round(low.PeakN())) || !strings.Contains(strings.Join(rec.Lines, "\n"), "BEYOND THE PEAK") {
		t.Fatalf("beyond the peak: %+v", rec)
	}
	// Beyond the curve: kappa = 0 (two worker counts), the asymptote
	// lambda/sigma = 40000 under the target.
	flat := USL{Lambda: 20000, Sigma: 0.5}
	cells = planCells(flat, flat, 1, 2)
	rec = Recommend(target, FitCells(cells), cells)
	if !rec.BeyondPeak || rec.CurvePeakWorkers != 0 || math.Abs(rec.CurveMaxEventsPS-40000) > 1 || rec.Pipelines != int(math.Ceil(req/flat.X(float64(rec.WorkersPerPipeline)))) ||
		flat.X(float64(rec.WorkersPerPipeline)) < 0.8*40000 || !strings.Contains(strings.Join(rec.Lines, "\n"), "BEYOND THE CURVE") {
		t.Fatalf("beyond the curve: %+v", rec)
	}
	// A per-node figure.
	target.CoresPerNode, target.NodeEventsPerS = 0, 20000
	cells = planCells(u4, u8, 1, 2)
	rec = Recommend(target, FitCells(cells), cells)
	if rec.Machines != int(math.Ceil(req/20000)) || rec.Workers == 0 {
		t.Fatalf("per-node machines %d, workers %d: %v", rec.Machines, rec.Workers, rec.Lines)
	}
	// No sustainable cell at all.
	rec = Recommend(target, FitCells([]PlanCell{{Partitions: 4, Workers: 1}}), nil)
	if rec.Workers != 0 || !strings.Contains(strings.Join(rec.Lines, "\n"), "no fit") {
		t.Fatalf("no fit: %v", rec.Lines)
	}
}

func TestPlanReportFiles(t *testing.T) {
	target := PlanTarget{EventsPerDay: 1e9, PeakFactor: 5, Keys: 2e6, ZipfS: 1.1, CoresPerNode: 8, CoresPerWorker: 1, Headroom: 0.3}
	cells := planCells(USL{Lambda: 20000, Sigma: 0.1}, USL{Lambda: 22000, Sigma: 0.08}, 1, 2)
	cells[0].Accuracy = &Accuracy{Exact: true, CountedEvents: 1000, ExpectedEvents: 1000, WindowsChecked: 10}
	r := &PlanReport{Plan: "small", StartedAt: time.Now(), DurationS: 600, Host: PlanHost{CPUs: 2, LoadAvgStart: 1.5},
		Config: map[string]any{"name": "small"}, Criteria: PlanCriteria{MinAchievedRatio: 0.95, MaxLagGrowth: 0.05, MaxP99IngestAckMS: 500},
		Target: target, Cells: cells, Exact: true}
	r.Fits = FitCells(cells)
	r.Recommendation = Recommend(target, r.Fits, cells)
	dir := t.TempDir()
	if err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	back, err := ReadPlanFile(filepath.Join(dir, "plan.json"))
	if err != nil || len(back.Cells) != 4 || len(back.Cells[0].Trials) != 3 || back.Fits[0].Fit == nil || back.Recommendation.Workers != r.Recommendation.Workers {
		t.Fatalf("plan.json round trip: %v %+v", err, back)
	}
	html, err := os.ReadFile(filepath.Join(dir, "plan.html"))
	if err != nil {
		t.Fatal(err)
	}
	// Self-contained: the scaling chart and one knee chart per cell, inline.
	if n := bytes.Count(html, []byte("data:image/png;base64,")); n != 1+len(cells) {
		t.Errorf("plan.html has %d inline charts, want %d", n, 1+len(cells))
	}
	for _, w := range []string{"Recommendation", "kappa=0", "answer:", "Trials", "NOT: lag grew"} {
		if !bytes.Contains(html, []byte(w)) {
			t.Errorf("plan.html lacks %q", w)
		}
	}
	if bytes.Contains(html, []byte("http://")) || bytes.Contains(html, []byte("https://")) {
		t.Error("plan.html refers to something outside itself")
	}
	md, err := os.ReadFile(filepath.Join(dir, "plan.md"))
	if err != nil || !strings.Contains(string(md), "## Recommendation") || !strings.Contains(string(md), "| 8 | 2 |") {
		t.Errorf("plan.md: %v\n%s", err, md)
	}
	if os.Getenv("COUNTLAB_KEEP_PLAN") != "" {
		_ = os.WriteFile(os.Getenv("COUNTLAB_KEEP_PLAN"), html, 0o644)
	}
}
