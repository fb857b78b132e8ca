// Package reports turns a run into its verdict: the accuracy check of the
// query service against the truth, latency percentiles from the run's
// histograms, SLO evaluation, the comparison with a baseline report, and
// the report itself (report.json, a stable contract for CI, and
// report.md for people).
package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Report is report.json.
type Report struct {
	Scenario   string        `json:"scenario"`
	StartedAt  time.Time     `json:"started_at"`
	DurationS  float64       `json:"duration_s"`
	Config     Config        `json:"config"`
	Throughput Throughput    `json:"throughput"`
	Latency    Latencies     `json:"latency"`
	Accuracy   Accuracy      `json:"accuracy"`
	Traffic    Traffic       `json:"traffic"`
	Faults     []FaultRecord `json:"faults"`
	SLO        []SLOResult   `json:"slo"`
	Baseline   *Comparison   `json:"baseline,omitempty"`
	Pass       bool          `json:"pass"`
	// Series is what the run measured over time (a sample a second),
	// charted in report.html.
	Series *TimeSeries `json:"series,omitempty"`
	// Saturation says which stage of the pipeline saturated first, and at
	// what rate (see Saturation).
	Saturation *Saturation `json:"saturation,omitempty"`
	// Resources are the memory and goroutines of each process over the
	// run, with their growth a hour.
	Resources []ResourceUsage `json:"resources,omitempty"`
	// Aborted, when set, is why the run stopped before its end: an abort
	// condition held, or the steady state did not hold before the first
	// fault (see phases.go).
	Aborted *Aborted `json:"aborted,omitempty"`
	// SteadyState is the steady-state check before the first fault.
	SteadyState *SteadyState `json:"steady_state,omitempty"`
	// FaultPhases are each fault's figures before, during and after it,
	// with the phase-scoped SLOs.
	FaultPhases []FaultPhases `json:"fault_phases,omitempty"`
	// Provenance is what produced the report and where (provenance.go).
	Provenance *Provenance `json:"provenance,omitempty"`
	// CPU is the CPU time of each process and stage over the traffic,
	// per event (cpu.go).
	CPU *CPU `json:"cpu,omitempty"`
	// Shards is how many sharded generators this report covers: 1 for
	// one (countlab load), N for MergeShards of N; 0 for countlab run.
	Shards int `json:"shards,omitempty"`
}

// Throughput is the offered and achieved rates.
type Throughput struct {
	// OfferedEventsPerS is the schedule's rate: sends intended a second.
	OfferedEventsPerS float64 `json:"offered_events_per_s"`
	// AchievedEventsPerS is events acknowledged a second (duplicates
	// included, malformed not).
	AchievedEventsPerS float64 `json:"achieved_events_per_s"`
}

// Traffic counts what was sent.
type Traffic struct {
	Generated     int64   `json:"generated"`
	Acked         int64   `json:"acked"`
	Rejected      int64   `json:"rejected"`
	Failed        int64   `json:"failed"`
	Resent        int64   `json:"resent"`
	Throttled     int64   `json:"throttled"` // sends refused for overload (429): re-sent or in the end Failed, never acked
	Errors        int64   `json:"errors"`
	Duplicates    int64   `json:"duplicates_acked"`
	MaxLagMS      float64 `json:"max_sender_lag_ms"`
	Queries       int64   `json:"queries"`
	QueryErrs     int64   `json:"query_errors"`
	Tracers       int64   `json:"tracers"`
	TracersMissed int64   `json:"tracers_missed"`
}

// Latencies are the three measured latencies.
type Latencies struct {
	IngestAck Percentiles `json:"ingest_ack"`
	Freshness Percentiles `json:"freshness"`
	Query     Percentiles `json:"query"`
}

// Percentiles of one latency, in milliseconds.
type Percentiles struct {
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
	Count int64   `json:"count"`
}

// FromHistogram reads percentiles from a histogram of microseconds.
func FromHistogram(h *hdrhistogram.Histogram) Percentiles {
	if h == nil || h.TotalCount() == 0 {
		return Percentiles{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Percentiles{P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P99: ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()), Count: h.TotalCount()}
}

// The files a report directory holds (WriteFiles): what `countlab
// report`, `countlab gate` and a CI job read.
const (
	JSONFile     = "report.json"
	MarkdownFile = "report.md"
	HTMLFile     = "report.html"
)

// WriteFiles writes JSONFile, MarkdownFile and HTMLFile into dir (made if
// missing).
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, JSONFile), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, MarkdownFile), []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	return r.WriteHTMLFile(filepath.Join(dir, HTMLFile))
}

// ReadFile reads a report.json.
func ReadFile(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: not a report.json: %w", path, err)
	}
	if r.Scenario == "" || r.StartedAt.IsZero() {
		return nil, fmt.Errorf("%s is not a countlab report.json (no scenario or started_at): give a report.json that countlab run wrote", path)
	}
	return &r, nil
}
