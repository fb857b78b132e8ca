package reports

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

func TestMannWhitney(t *testing.T) {
	// 3 vs 3, y all above x: U = 9, P(U >= 9) = 1/C(6,3) = 0.05.
	u, p := mannWhitney([]float64{1, 2, 3}, []float64{4, 5, 6})
	if u != 9 || math.Abs(p-0.05) > 1e-12 {
		t.Fatalf("u=%v p=%v, want 9 0.05", u, p)
	}
	// y all below: p = 1.
	if _, p := mannWhitney([]float64{4, 5, 6}, []float64{1, 2, 3}); p != 1 {
		t.Fatalf("p=%v, want 1", p)
	}
	// 1 vs 1: p = 0.5 when worse; the smallest attainable p is 0.5.
	if _, p := mannWhitney([]float64{1}, []float64{2}); p != 0.5 || minUTail(1, 1) != 0.5 {
		t.Fatalf("p=%v min=%v", p, minUTail(1, 1))
	}
	if m := minUTail(5, 5); math.Abs(m-1.0/252) > 1e-12 {
		t.Fatalf("minUTail(5,5)=%v", m)
	}
	// The exact tail and the normal approximation agree on a mid-sized
	// sample (20 vs 20, shifted).
	rng := rand.New(rand.NewPCG(1, 2))
	x, y := make([]float64, 20), make([]float64, 20)
	for i := range x {
		x[i], y[i] = rng.NormFloat64(), rng.NormFloat64()+0.6
	}
	u, exact := mannWhitney(x, y)
	n, m := 20.0, 20.0
	z := (u - n*m/2 - 0.5) / math.Sqrt(n*m*(n+m+1)/12)
	if normal := 0.5 * math.Erfc(z/math.Sqrt2); math.Abs(normal-exact) > 0.01 {
		t.Fatalf("exact %v vs normal %v", exact, normal)
	}
}

// The failure of issue 16: ci-smoke's query p999 comes from 300 samples;
// it is not gated, and says so.
func TestGateFewSamples(t *testing.T) {
	base, cur := sample(), sample()
	base.Latency.Query = Percentiles{P50: 1.1, P90: 2.1, P99: 3.9, P999: 4.44, Max: 4.44, Count: 300}
	cur.Latency.Query = Percentiles{P50: 1.1, P90: 2.2, P99: 4.1, P999: 5.93, Max: 5.93, Count: 300}
	c := cur.Compare(base, "r1/report.json", GateConfig{})
	if len(c.Regressed) > 0 {
		t.Fatalf("regressed: %v", c.Regressed)
	}
	got := strings.Join(c.NotGated, "\n")
	for _, want := range []string{"query_p999: not gated: 300 samples behind p999, 10,000 needed", "query_p99: not gated: 300 samples behind p99, 1,000 needed", "query_max: not gated: a maximum is one sample"} {
		if !strings.Contains(got, want) {
			t.Errorf("not gated %q lacks %q", got, want)
		}
	}
}

// recordedRuns are real ci-smoke runs (testdata/ci-smoke: report.json of
// `countlab run ci-smoke`, series and resources left out).
func recordedRuns(t *testing.T) []*Report {
	t.Helper()
	runs, err := LoadRuns(filepath.Join("testdata", "ci-smoke"))
	if err != nil {
		t.Fatal(err)
	}
	return Reports(runs)
}

// runModel draws synthetic runs by resampling recorded ones: a synthetic
// run is one of the recorded runs, drawn at random (the machine's load of
// that run: on the shared reference machine one run in four had tails
// three times the others'), jittered (5% shared by its latencies, 5% each),
// and each of its percentiles drawn again as the order statistic of its
// count of samples from a distribution through the recorded percentiles,
// so a p99.9 of 300 samples is as noisy as a real one.
type runModel struct {
	recorded []*Report
}

func newRunModel(recorded []*Report) *runModel { return &runModel{recorded: recorded} }

// quantile is the latency at u of a distribution through p's
// percentiles (log-linear between them; the least is a third of p50).
func quantile(p Percentiles, u float64) float64 {
	qs := []float64{0, 0.5, 0.9, 0.99, 0.999, 1}
	vs := []float64{p.P50 / 3, p.P50, p.P90, p.P99, p.P999, max(p.Max, p.P999)}
	for i := 1; i < len(qs); i++ {
		if u <= qs[i] {
			f := (u - qs[i-1]) / (qs[i] - qs[i-1])
			return math.Exp(math.Log(vs[i-1]) + f*(math.Log(vs[i])-math.Log(vs[i-1])))
		}
	}
	return vs[len(vs)-1]
}

// gammaApprox draws Gamma(k, 1): a sum of k exponentials for small k,
// the normal approximation for large.
func gammaApprox(rng *rand.Rand, k float64) float64 {
	if k <= 50 {
		var s float64
		for range int(k) {
			s += rng.ExpFloat64()
		}
		return s
	}
	return max(1e-9, k+math.Sqrt(k)*rng.NormFloat64())
}

// orderStat draws the q-quantile's position in [0, 1] of n uniform
// samples: 1 - U, the j-th largest, is Beta(j, n-j+1).
func orderStat(rng *rand.Rand, n int64, q float64) float64 {
	j := float64(n) - math.Ceil(q*float64(n)) + 1
	if j < 1 {
		j = 1
	}
	a := gammaApprox(rng, j)
	return 1 - a/(a+gammaApprox(rng, float64(n)-j+1))
}

// draw is one synthetic run; queryDelayMS is added to every query
// answer, slowGateway halves the throughput.
func (m *runModel) draw(rng *rand.Rand, queryDelayMS float64, slowGateway bool) *Report {
	ref := m.recorded[rng.IntN(len(m.recorded))]
	r := *ref
	load := rng.NormFloat64() // shared by every latency: the machine
	pct := func(p Percentiles, add float64) Percentiles {
		f := math.Exp(0.05*load + 0.05*rng.NormFloat64())
		v := func(q float64) float64 { return quantile(p, orderStat(rng, p.Count, q))*f + add }
		return Percentiles{P50: v(0.5), P90: v(0.9), P99: v(0.99), P999: v(0.999), Max: v(1), Count: p.Count}
	}
	r.Latency = Latencies{
		IngestAck: pct(ref.Latency.IngestAck, 0),
		Freshness: pct(ref.Latency.Freshness, queryDelayMS), // the tracers poll the query service
		Query:     pct(ref.Latency.Query, queryDelayMS),
	}
	r.Throughput.AchievedEventsPerS = ref.Throughput.AchievedEventsPerS * math.Exp(0.001*rng.NormFloat64())
	if slowGateway {
		r.Throughput.AchievedEventsPerS /= 2
	}
	return &r
}

func (m *runModel) drawN(rng *rand.Rand, n int, queryDelayMS float64, slowGateway bool) []*Report {
	out := make([]*Report, n)
	for i := range out {
		out[i] = m.draw(rng, queryDelayMS, slowGateway)
	}
	return out
}

// TestGateFalseAlarmsAndDetection resamples runs shaped like the recorded
// ci-smoke runs 100 times per setup (baseline runs vs candidate runs) and
// counts the gate's false alarms (the same build) and its detections of
// the planted regressions (+5 ms on every query answer; half the gateway's
// throughput).
func TestGateFalseAlarmsAndDetection(t *testing.T) {
	m := newRunModel(recordedRuns(t))
	const trials = 100
	for _, setup := range []struct {
		base, cur     int
		maxFalseAlarm int
	}{{1, 1, 1}, {3, 1, 1}, {3, 3, 1}, {5, 3, 1}, {5, 4, 1}, {5, 5, 1}, {10, 5, 1}} {
		rng := rand.New(rand.NewPCG(uint64(setup.base), uint64(setup.cur)))
		var falseAlarms, delayCaught, slowCaught int
		byMetric := map[string]int{}
		for range trials {
			files := make([]string, setup.base)
			c := Gate(m.drawN(rng, setup.base, 0, false), m.drawN(rng, setup.cur, 0, false), files, GateConfig{})
			if len(c.Regressed) > 0 {
				falseAlarms++
				for _, r := range c.Regressed {
					name, _, _ := strings.Cut(r, ":")
					byMetric[name]++
				}
			}
			base := m.drawN(rng, setup.base, 0, false)
			if c := Gate(base, m.drawN(rng, setup.cur, 5, false), files, GateConfig{}); regressed(c, "query_p50") {
				delayCaught++
			}
			if c := Gate(base, m.drawN(rng, setup.cur, 0, true), files, GateConfig{}); regressed(c, "achieved_events_per_s") {
				slowCaught++
			}
		}
		t.Logf("%d baseline vs %d candidate runs: %d/%d false alarms %v; +5 ms query caught %d/%d; half throughput caught %d/%d",
			setup.base, setup.cur, falseAlarms, trials, byMetric, delayCaught, trials, slowCaught, trials)
		if falseAlarms > setup.maxFalseAlarm {
			t.Errorf("%d vs %d runs: %d false alarms in %d, want at most %d", setup.base, setup.cur, falseAlarms, trials, setup.maxFalseAlarm)
		}
		if delayCaught != trials || slowCaught != trials {
			t.Errorf("%d vs %d runs: planted regressions caught %d and %d times in %d", setup.base, setup.cur, delayCaught, slowCaught, trials)
		}
	}
}

func regressed(c *Comparison, metric string) bool {
	for _, m := range c.Metrics {
		if m.Name == metric && m.Regressed {
			return true
		}
	}
	return false
}
