package reports

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// The regression gate compares the runs of a candidate with the runs of a
// baseline, metric by metric: each run gives one value of each metric
// (throughput, and the p50/p90/p99/p999/max of each latency), and a
// metric regressed when
//
//   - the candidate's runs rank worse than the baseline's in a one-sided
//     Mann-Whitney U test, at a level that keeps the chance of any false
//     alarm among the gated metrics within Alpha (Holm's step-down; with
//     too few runs to reach it, the test's most extreme outcome: every
//     candidate run worse than every baseline run), and
//   - the difference of the medians is worse by at least the metric's
//     minimum effect, in absolute terms and relative to the baseline, both
//     (Effect: a 0.3 ms change of a 1 ms p50 is noise, as is +10% of a
//     30 ms p99), and by more than the baseline runs' own range (max -
//     min): a change inside what identical runs already differ by is
//     noise.
//
// A percentile is gated only when every run has enough samples behind it:
// TailSamples beyond it (p99: 1,000 samples, p99.9: 10,000); with fewer it
// is one of the few largest samples of the run, and says nothing about the
// build. The p90, p99 and p99.9 are held to a fifth of Alpha
// (TailAlphaShare) and gated only when the run counts can reach it (5
// baseline runs against 4 or more): on a shared machine identical runs'
// tails differ several times over (four ci-smoke runs on the 2-core
// reference machine: ingest-ack p99 8 to 94 ms, while the p50 stayed
// within 3.3 to 4.0 ms), and a few runs cannot tell that from a
// regression. Maxima are never gated (one sample). Metrics not gated are
// listed with the reason.

// Effect is a metric's minimum effect size: a change smaller than Abs (in
// the metric's unit: ms, events/s) or than Rel of the baseline is never a
// regression.
type Effect struct {
	Abs float64 `json:"abs"`
	Rel float64 `json:"rel"`
}

// DefaultAlpha is the rank test's significance level.
const DefaultAlpha = 0.05

// TailAlphaShare is the share of Alpha the p90, p99 and p99.9 are held
// to: they are gated only when the run counts let their rank test reach
// it (at the default Alpha: 5 baseline and 4 candidate runs, or 10 and 3).
const TailAlphaShare = 0.2

// TailSamples is how many samples a run must have beyond a percentile for
// the percentile to be gated: p50 needs 20 samples, p90 100, p99 1,000,
// p99.9 10,000.
const TailSamples = 10

// DefaultEffect is the minimum effect of a metric (see Effect): throughput
// 10% and 50 events/s; latencies 30% and, by percentile, 1 ms (p50), 2 ms
// (p90), 5 ms (p99), 10 ms (p99.9); freshness, which is tens of ms of
// commit and poll intervals, 25 times that.
func DefaultEffect(metric string) Effect {
	if metric == "achieved_events_per_s" {
		return Effect{Abs: 50, Rel: 0.10}
	}
	kind, pct := splitMetric(metric)
	abs := map[string]float64{"p50": 1, "p90": 2, "p99": 5, "p999": 10, "max": 10}[pct]
	if kind == "freshness" {
		abs *= 25
	}
	return Effect{Abs: abs, Rel: 0.50}
}

// GateConfig tunes the gate; zero fields take the defaults.
type GateConfig struct {
	// Effects override DefaultEffect by metric name; a zero Abs or Rel
	// keeps that part of the default.
	Effects map[string]Effect
	// Alpha is the rank test's significance level (DefaultAlpha).
	Alpha float64
}

func (c GateConfig) effect(metric string) Effect {
	e := DefaultEffect(metric)
	if o, ok := c.Effects[metric]; ok {
		if o.Abs > 0 {
			e.Abs = o.Abs
		}
		if o.Rel > 0 {
			e.Rel = o.Rel
		}
	}
	return e
}

// Comparison is the gate's verdict on a candidate's runs against a
// baseline's.
type Comparison struct {
	// File is the baseline's report.json paths, comma-separated.
	File         string  `json:"file"`
	BaselineRuns int     `json:"baseline_runs"`
	Runs         int     `json:"runs"`
	Alpha        float64 `json:"alpha"`
	// Metrics are every compared metric, gated or not.
	Metrics []Metric `json:"metrics"`
	// Regressed names the metrics that regressed, with the figures.
	Regressed []string `json:"regressed"`
	// NotGated names the metrics not gated, with why.
	NotGated []string `json:"not_gated,omitempty"`
	// Flags are differences between the runs compared that do not refuse
	// the comparison but may explain a change (another machine, another
	// configuration).
	Flags []string `json:"flags,omitempty"`
}

// Metric is one compared metric.
type Metric struct {
	Name string `json:"name"`
	// Baseline and Value are the medians of the baseline's and the
	// candidate's runs; BaselineRuns and Runs the values of each run.
	Baseline     float64   `json:"baseline"`
	Value        float64   `json:"value"`
	BaselineRuns []float64 `json:"baseline_runs"`
	Runs         []float64 `json:"runs"`
	// Tolerance and MinAbs are the minimum effect, relative and absolute;
	// Spread the baseline runs' range (max - min), which the change must
	// exceed too.
	Tolerance float64 `json:"tolerance"`
	MinAbs    float64 `json:"min_abs"`
	Spread    float64 `json:"spread"`
	// Change is (value - baseline) / baseline; positive is worse for a
	// latency, negative is worse for throughput.
	Change float64 `json:"change"`
	// P is the rank test's one-sided p-value (worse than the baseline);
	// Alpha the level it is held to: Holm's share of the configured one
	// (see holm), or the smallest p-value the run counts allow.
	P     float64 `json:"p"`
	Alpha float64 `json:"alpha"`
	// Samples is the fewest samples behind the percentile in any run (0
	// for throughput).
	Samples int64 `json:"samples,omitempty"`
	// Gated is false when the metric cannot be gated; NotGated says why.
	Gated     bool   `json:"gated"`
	NotGated  string `json:"not_gated,omitempty"`
	Regressed bool   `json:"regressed"`
	big       bool   // the change is beyond the minimum effect and the spread
	tail      bool   // p90, p99, p999: held to Alpha*TailAlphaShare
}

// metricValue is one run's value of a metric.
type metricValue struct {
	v            float64
	count        int64
	higherBetter bool
}

// metricValues are r's gate metrics by name.
func (r *Report) metricValues() map[string]metricValue {
	out := map[string]metricValue{"achieved_events_per_s": {v: r.Throughput.AchievedEventsPerS, higherBetter: true}}
	for name, p := range map[string]Percentiles{"ingest_ack": r.Latency.IngestAck, "freshness": r.Latency.Freshness, "query": r.Latency.Query} {
		if p.Count == 0 && p.Max == 0 {
			continue
		}
		for pct, v := range map[string]float64{"p50": p.P50, "p90": p.P90, "p99": p.P99, "p999": p.P999, "max": p.Max} {
			out[name+"_"+pct] = metricValue{v: v, count: p.Count}
		}
	}
	return out
}

// splitMetric splits "ingest_ack_p99" into "ingest_ack" and "p99".
func splitMetric(name string) (kind, pct string) {
	i := strings.LastIndexByte(name, '_')
	if i < 0 {
		return name, ""
	}
	return name[:i], name[i+1:]
}

// samplesNeeded is how many samples a run needs behind a percentile ("p99")
// to gate it: TailSamples beyond it. 0: not a percentile.
func samplesNeeded(pct string) int64 {
	switch pct {
	case "p50":
		return 2 * TailSamples
	case "p90":
		return 10 * TailSamples
	case "p99":
		return 100 * TailSamples
	case "p999":
		return 1000 * TailSamples
	}
	return 0
}

// Gate compares the candidate's runs cur with the baseline's runs base
// (report.json paths files) and returns the verdict. Only metrics every
// run has are compared. Check Comparable first: Gate does not.
func Gate(base, cur []*Report, files []string, cfg GateConfig) *Comparison {
	alpha := cfg.Alpha
	if alpha <= 0 {
		alpha = DefaultAlpha
	}
	c := &Comparison{File: strings.Join(files, ","), BaselineRuns: len(base), Runs: len(cur), Alpha: alpha}
	if len(base) == 0 || len(cur) == 0 {
		return c
	}
	all := append(append([]*Report{}, base...), cur...)
	vals := make([]map[string]metricValue, len(all))
	for i, r := range all {
		vals[i] = r.metricValues()
	}
	var names []string
	for n := range vals[0] {
		inAll := true
		for _, v := range vals[1:] {
			_, ok := v[n]
			inAll = inAll && ok
		}
		if inAll {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		m := Metric{Name: n, Alpha: alpha, Samples: -1}
		higher := vals[0][n].higherBetter
		for i, v := range vals {
			if i < len(base) {
				m.BaselineRuns = append(m.BaselineRuns, v[n].v)
			} else {
				m.Runs = append(m.Runs, v[n].v)
			}
			if m.Samples < 0 || v[n].count < m.Samples {
				m.Samples = v[n].count
			}
		}
		c.Metrics = append(c.Metrics, gateMetric(m, higher, cfg.effect(n)))
	}
	holm(c.Metrics, alpha, minUTail(len(base), len(cur)))
	for _, m := range c.Metrics {
		if m.Regressed {
			c.Regressed = append(c.Regressed, m.regressedText(len(base), len(cur)))
		} else if !m.Gated {
			c.NotGated = append(c.NotGated, m.Name+": "+m.NotGated)
		}
	}
	return c
}

// holm holds the gated metrics' rank tests to Holm's step-down levels, so
// that alpha bounds the chance that any of them is a false alarm: the
// i-th smallest p-value of k is held to alpha/(k-i+1) (never below floor,
// the smallest p-value the run counts allow), and the tests after the
// first that fails its level all fail. A metric regressed when its test
// holds and its change is beyond its minimum effect (big).
func holm(ms []Metric, alpha, floor float64) {
	var idx []int
	for i, m := range ms {
		if m.Gated {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return ms[idx[a]].P < ms[idx[b]].P })
	holds := true
	for rank, i := range idx {
		m := &ms[i]
		m.Alpha = max(alpha/float64(len(idx)-rank), floor)
		if m.tail {
			m.Alpha = min(m.Alpha, alpha*TailAlphaShare)
		}
		holds = holds && m.P <= m.Alpha*(1+1e-9)
		m.Regressed = holds && m.big
	}
}

// gateMetric fills m's verdict from its run values.
func gateMetric(m Metric, higherBetter bool, e Effect) Metric {
	m.Tolerance, m.MinAbs = e.Rel, e.Abs
	m.Baseline, m.Value = median(m.BaselineRuns), median(m.Runs)
	if m.Baseline != 0 {
		m.Change = (m.Value - m.Baseline) / math.Abs(m.Baseline)
	}
	_, pct := splitMetric(m.Name)
	if higherBetter {
		m.Samples = 0
	}
	m.tail = pct == "p90" || pct == "p99" || pct == "p999"
	x, y, worse := m.BaselineRuns, m.Runs, m.Value-m.Baseline
	if higherBetter { // the rank test asks "greater is worse"
		x, y, worse = negate(x), negate(y), -worse
	}
	_, m.P = mannWhitney(x, y)
	need := samplesNeeded(pct)
	switch {
	case pct == "max" && !higherBetter:
		m.NotGated = "not gated: a maximum is one sample"
		return m
	case need > 0 && m.Samples < need:
		m.NotGated = fmt.Sprintf("not gated: %s samples behind %s, %s needed", thousands(m.Samples), pct, thousands(need))
		return m
	case m.tail && minUTail(len(x), len(y)) > m.Alpha*TailAlphaShare:
		m.NotGated = fmt.Sprintf("not gated: %d vs %d runs; a %s varies from run to run several times more than a p50, its rank test must reach p=%.2g (e.g. 4 runs against 5, or 3 against 10)",
			len(y), len(x), pct, m.Alpha*TailAlphaShare)
		return m
	}
	m.Gated = true
	m.Spread = slices.Max(m.BaselineRuns) - slices.Min(m.BaselineRuns)
	m.big = worse >= e.Abs && worse >= e.Rel*math.Abs(m.Baseline) && worse > m.Spread
	return m
}

func (m Metric) regressedText(baseRuns, runs int) string {
	return fmt.Sprintf("%s: %.3g vs baseline %.3g (%+.0f%%; minimum effect %g and %.0f%%, baseline spread %.3g; rank test p=%.3g, %d vs %d runs)",
		m.Name, m.Value, m.Baseline, 100*m.Change, m.MinAbs, 100*m.Tolerance, m.Spread, m.P, runs, baseRuns)
}

func negate(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = -x
	}
	return out
}

// thousands writes n with commas: 10,000.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Compare gates r (one run) against one baseline run and sets r.Baseline.
func (r *Report) Compare(base *Report, file string, cfg GateConfig) *Comparison {
	c := Gate([]*Report{base}, []*Report{r}, []string{file}, cfg)
	r.Baseline = c
	return c
}
