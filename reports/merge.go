package reports

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// HistogramFile is the name of the latency histograms written next to a
// shard's report.json: what `countlab report merge` adds up.
const HistogramFile = "latency.hdr"

// Histograms are a run's latency histograms in microseconds, the exact
// form of its Latencies (a nil histogram: not measured).
type Histograms struct {
	IngestAck, Freshness, Query *hdrhistogram.Histogram
}

func (h *Histograms) fields() []struct {
	name string
	p    **hdrhistogram.Histogram
} {
	return []struct {
		name string
		p    **hdrhistogram.Histogram
	}{{"ingest_ack", &h.IngestAck}, {"freshness", &h.Freshness}, {"query", &h.Query}}
}

// WriteFile writes the histograms to path: a JSON object of each
// histogram's HdrHistogram V2 compressed encoding, base64 (the form every
// HdrHistogram implementation reads).
func (h Histograms) WriteFile(path string) error {
	m := map[string]string{}
	for _, f := range h.fields() {
		if *f.p == nil {
			continue
		}
		b, err := (*f.p).Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return fmt.Errorf("reports: encode %s histogram: %w", f.name, err)
		}
		m[f.name] = base64.StdEncoding.EncodeToString(b)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadHistograms reads a file written by Histograms.WriteFile.
func ReadHistograms(path string) (Histograms, error) {
	var h Histograms
	b, err := os.ReadFile(path)
	if err != nil {
		return h, err
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return h, fmt.Errorf("%s: %w", path, err)
	}
	for _, f := range h.fields() {
		s, ok := m[f.name]
		if !ok {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return h, fmt.Errorf("%s: %s: %w", path, f.name, err)
		}
		if *f.p, err = hdrhistogram.Decode(raw); err != nil {
			return h, fmt.Errorf("%s: %s: %w", path, f.name, err)
		}
	}
	return h, nil
}

// Shard is one shard's report with its histograms.
type Shard struct {
	Report     *Report
	Histograms Histograms
}

// MergeShards is the report of the whole traffic of shards that ran at
// the same time against one system: rates and counts add, the duration
// and the sender lag are the longest, the start the earliest, and every
// latency's percentiles are those of the sum of the shards' histograms
// (HDR histograms add exactly), which it returns too; the achieved rate
// is the acknowledged events over the longest duration. The accuracy is
// left to `countlab check` of the merged truths; the report passes when
// every shard did.
func MergeShards(shards []Shard) (*Report, Histograms, error) {
	var sum Histograms
	if len(shards) == 0 {
		return nil, sum, errors.New("reports: no shard to merge")
	}
	first := shards[0].Report
	out := &Report{Scenario: first.Scenario, StartedAt: first.StartedAt, Config: first.Config, Pass: true,
		Provenance: first.Provenance, Shards: len(shards)}
	for i, s := range shards {
		r := s.Report
		if r.Scenario != first.Scenario {
			return nil, sum, fmt.Errorf("reports: shard %d is of scenario %q, shard 0 of %q", i, r.Scenario, first.Scenario)
		}
		if r.StartedAt.Before(out.StartedAt) {
			out.StartedAt = r.StartedAt
		}
		out.DurationS = max(out.DurationS, r.DurationS)
		out.Throughput.OfferedEventsPerS += r.Throughput.OfferedEventsPerS
		out.Throughput.AchievedEventsPerS += r.Throughput.AchievedEventsPerS
		t, a := &out.Traffic, r.Traffic
		t.Generated += a.Generated
		t.Acked += a.Acked
		t.Rejected += a.Rejected
		t.Failed += a.Failed
		t.Resent += a.Resent
		t.Throttled += a.Throttled
		t.Errors += a.Errors
		t.Duplicates += a.Duplicates
		t.MaxLagMS = max(t.MaxLagMS, a.MaxLagMS)
		t.Queries += a.Queries
		t.QueryErrs += a.QueryErrs
		t.Tracers += a.Tracers
		t.TracersMissed += a.TracersMissed
		out.Faults = append(out.Faults, r.Faults...)
		out.SLO = append(out.SLO, r.SLO...)
		out.Pass = out.Pass && r.Pass
		src := s.Histograms
		for j, f := range sum.fields() {
			h := *src.fields()[j].p
			if h == nil {
				continue
			}
			if *f.p == nil {
				*f.p = hdrhistogram.New(h.LowestTrackableValue(), h.HighestTrackableValue(), int(h.SignificantFigures()))
			}
			if dropped := (*f.p).Merge(h); dropped > 0 {
				return nil, sum, fmt.Errorf("reports: shard %d: %d %s values out of the histogram's range", i, dropped, f.name)
			}
		}
	}
	out.Latency = Latencies{IngestAck: FromHistogram(sum.IngestAck), Freshness: FromHistogram(sum.Freshness), Query: FromHistogram(sum.Query)}
	if out.DurationS > 0 {
		out.Throughput.AchievedEventsPerS = float64(out.Traffic.Acked) / out.DurationS
	}
	return out, sum, nil
}
