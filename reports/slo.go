package reports

import "fmt"

// SLOResult is one threshold's verdict.
type SLOResult struct {
	Name      string  `json:"name"`
	Threshold float64 `json:"threshold"`
	Value     float64 `json:"value"`
	Pass      bool    `json:"pass"`
	// Kind is "min" (value must be >= threshold), "max" (<=) or "exact".
	Kind string `json:"kind"`
}

// Thresholds are the SLOs of a run; a zero threshold is not checked.
type Thresholds struct {
	MinThroughputEventsPerS float64
	MaxP99IngestAckMS       float64
	MaxP99FreshnessMS       float64
	MaxP99QueryMS           float64
	AccuracyExact           bool
	// MaxRSSSlopeMiBPerH bounds the resident-memory growth (MiB an hour,
	// fitted after the warm-up) of every process in Resources but the
	// harness's own.
	MaxRSSSlopeMiBPerH float64
	// MaxHarnessRSSSlopeMiBPerH bounds the harness (countlab) process's:
	// it holds the truth, which grows with the events sent.
	MaxHarnessRSSSlopeMiBPerH float64
	// MaxHarnessRSSMiB bounds the harness (countlab) process's resident
	// memory at the end of the run, in MiB (a long run in bounded memory).
	MaxHarnessRSSMiB float64
	// MaxGoroutineSlopePerH bounds the goroutine growth (an hour) of every
	// process whose goroutines were measured.
	MaxGoroutineSlopePerH float64
}

// EvaluateSLO checks r against t, sets r.SLO and r.Pass (every SLO holds
// and, with a baseline, no metric regressed).
func (r *Report) EvaluateSLO(t Thresholds) {
	r.SLO = r.SLO[:0]
	add := func(name, kind string, threshold, value float64) {
		pass := value >= threshold
		if kind == "max" {
			pass = value <= threshold
		}
		r.SLO = append(r.SLO, SLOResult{Name: name, Threshold: threshold, Value: value, Pass: pass, Kind: kind})
	}
	if t.MinThroughputEventsPerS > 0 {
		add("min_throughput_events_per_s", "min", t.MinThroughputEventsPerS, r.Throughput.AchievedEventsPerS)
	}
	if t.MaxP99IngestAckMS > 0 {
		add("max_p99_ingest_ack_ms", "max", t.MaxP99IngestAckMS, r.Latency.IngestAck.P99)
	}
	if t.MaxP99FreshnessMS > 0 {
		v := r.Latency.Freshness.P99
		if r.Latency.Freshness.Count == 0 {
			v = -1 // nothing measured: fails below
		}
		add("max_p99_freshness_ms", "max", t.MaxP99FreshnessMS, v)
		if v < 0 {
			r.SLO[len(r.SLO)-1].Pass = false
		}
	}
	if t.MaxP99QueryMS > 0 {
		add("max_p99_query_ms", "max", t.MaxP99QueryMS, r.Latency.Query.P99)
	}
	if t.AccuracyExact {
		v := 0.0
		if r.Accuracy.Exact {
			v = 1
		}
		r.SLO = append(r.SLO, SLOResult{Name: "accuracy_exact", Threshold: 1, Value: v, Pass: r.Accuracy.Exact, Kind: "exact"})
	}
	r.resourceSLOs(t)
	r.Pass = true
	for _, s := range r.SLO {
		r.Pass = r.Pass && s.Pass
	}
	if r.Baseline != nil && len(r.Baseline.Regressed) > 0 {
		r.Pass = false
	}
}

// Failed names the SLOs that failed.
func (r *Report) Failed() []string {
	var out []string
	for _, s := range r.SLO {
		if !s.Pass {
			out = append(out, fmt.Sprintf("%s: %g (threshold %g)", s.Name, s.Value, s.Threshold))
		}
	}
	return out
}
