package reports

import (
	"fmt"
	"math"
	"sort"
)

// Comparison is a report compared with a baseline report.
type Comparison struct {
	// File is the baseline's path.
	File    string   `json:"file"`
	Metrics []Metric `json:"metrics"`
	// Regressed names the metrics worse than the baseline beyond their
	// tolerance.
	Regressed []string `json:"regressed"`
}

// Metric is one compared metric.
type Metric struct {
	Name      string  `json:"name"`
	Baseline  float64 `json:"baseline"`
	Value     float64 `json:"value"`
	Tolerance float64 `json:"tolerance"`
	// Change is (value - baseline) / baseline; positive is worse for a
	// latency, negative is worse for throughput.
	Change    float64 `json:"change"`
	Regressed bool    `json:"regressed"`
}

// metrics are the compared values of r, by name; higherBetter marks the
// ones where a drop is the regression.
func (r *Report) metrics() (vals map[string]float64, higherBetter map[string]bool) {
	vals = map[string]float64{"achieved_events_per_s": r.Throughput.AchievedEventsPerS}
	higherBetter = map[string]bool{"achieved_events_per_s": true}
	for name, p := range map[string]Percentiles{"ingest_ack": r.Latency.IngestAck, "freshness": r.Latency.Freshness, "query": r.Latency.Query} {
		if p.Count == 0 && p.Max == 0 {
			continue
		}
		vals[name+"_p50"], vals[name+"_p90"], vals[name+"_p99"], vals[name+"_p999"], vals[name+"_max"] = p.P50, p.P90, p.P99, p.P999, p.Max
	}
	return vals, higherBetter
}

// Compare compares r with base under the tolerances (relative, by metric
// name; def for the rest) and sets r.Baseline. Latency maxima are reported
// but never regress (one outlier is not a trend). Small absolute latency
// changes (under 1 ms) never regress either.
func (r *Report) Compare(base *Report, file string, tolerances map[string]float64, def float64) *Comparison {
	cur, higher := r.metrics()
	old, _ := base.metrics()
	c := &Comparison{File: file}
	names := make([]string, 0, len(cur))
	for n := range cur {
		if _, ok := old[n]; ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		tol, ok := tolerances[n]
		if !ok {
			tol = def
		}
		m := Metric{Name: n, Baseline: old[n], Value: cur[n], Tolerance: tol}
		if m.Baseline != 0 {
			m.Change = (m.Value - m.Baseline) / math.Abs(m.Baseline)
		}
		switch {
		case higher[n]:
			m.Regressed = m.Value < m.Baseline*(1-tol)
		case len(n) > 4 && n[len(n)-4:] == "_max":
		default:
			m.Regressed = m.Value > m.Baseline*(1+tol) && m.Value-m.Baseline >= 1
		}
		if m.Regressed {
			c.Regressed = append(c.Regressed, fmt.Sprintf("%s: %.3g vs baseline %.3g (%+.0f%%, tolerance %.0f%%)", n, m.Value, m.Baseline, 100*m.Change, 100*tol))
		}
		c.Metrics = append(c.Metrics, m)
	}
	r.Baseline = c
	return c
}
