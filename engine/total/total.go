// Package total is the engine's output: the absolute running total of one
// (window size, event type, counted key, dimension set, sub-key, window),
// as the aggregator writes it to the compacted aggregates topic, the sink
// writes it to InfluxDB and the query service reads it back.
//
// Totals are absolute, never deltas: writing the same total twice, or an
// older total followed by a newer one, leaves the newest value. That is what
// makes a replay after a crash overwrite instead of add.
package total

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Total is one window's running total.
type Total struct {
	// Key is the counted key (video, ad, URL).
	Key string `json:"key"`
	// Type is the event type.
	Type string `json:"type"`
	// DimSet is the canonical dimension set "country=US,device=ios" ("" for none).
	DimSet string `json:"dims,omitempty"`
	// Sub is the partition of the events topic the total was counted from.
	// A key normally lives in one partition; a hot key split across
	// partitions by its producers (record key "KEY#N", N from the event id,
	// so duplicates still meet) or a key moved by a partition-count change
	// has one total per partition, and readers sum over Sub. Aggregates
	// records are produced to partition Sub of the aggregates topic.
	Sub int `json:"sub"`
	// Start is the window start, unix milliseconds.
	Start int64 `json:"start"`
	// Size is the window length in milliseconds.
	Size int64 `json:"size"`
	// Count is the number of distinct events counted in the window.
	Count int64 `json:"count"`
	// Sum is the sum of the events' values.
	Sum float64 `json:"sum"`
	// Min is the smallest value seen (meaningless when Count is 0).
	Min float64 `json:"min"`
	// Max is the largest value seen (meaningless when Count is 0).
	Max float64 `json:"max"`
	// Closed is set on the last total of a window: the watermark passed the
	// window end plus the allowed lateness, and only reconciliation changes
	// it from now on.
	Closed bool `json:"closed,omitempty"`
}

// WindowStart is the start of the tumbling window of length size (ms) that
// holds the event time ts (ms). Windows are aligned to the unix epoch.
func WindowStart(ts, size int64) int64 {
	s := ts - ts%size
	if ts < 0 && ts%size != 0 {
		s -= size
	}
	return s
}

// Add counts one event of value v into t.
func (t *Total) Add(v float64) {
	if t.Count == 0 {
		t.Min, t.Max = v, v
	} else {
		t.Min = math.Min(t.Min, v)
		t.Max = math.Max(t.Max, v)
	}
	t.Count++
	t.Sum += v
}

// Merge folds o (another part of the same window, e.g. another sub-key) into t.
func (t *Total) Merge(o Total) {
	if o.Count == 0 {
		return
	}
	if t.Count == 0 {
		t.Min, t.Max = o.Min, o.Max
	} else {
		t.Min = math.Min(t.Min, o.Min)
		t.Max = math.Max(t.Max, o.Max)
	}
	t.Count += o.Count
	t.Sum += o.Sum
}

// Avg is Sum/Count, or 0 for an empty total.
func (t *Total) Avg() float64 {
	if t.Count == 0 {
		return 0
	}
	return t.Sum / float64(t.Count)
}

// RecordKey is the Kafka record key of t on the aggregates topic: unique per
// window series, so compaction keeps only the newest total.
func (t *Total) RecordKey() []byte {
	b := make([]byte, 0, len(t.Key)+len(t.Type)+len(t.DimSet)+48)
	return t.AppendRecordKey(b)
}

// AppendRecordKey appends RecordKey to dst.
func (t *Total) AppendRecordKey(dst []byte) []byte {
	dst = strconv.AppendInt(dst, t.Size, 10)
	dst = append(dst, '|')
	dst = append(dst, t.Type...)
	dst = append(dst, '|')
	dst = append(dst, t.Key...)
	dst = append(dst, '|')
	dst = append(dst, t.DimSet...)
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, int64(t.Sub), 10)
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, t.Start, 10)
	return dst
}

// SizeName is the window size as InfluxDB tags and APIs name it ("1m0s" ->
// "60s"): whole seconds.
func SizeName(size int64) string {
	return strconv.FormatInt(size/1000, 10) + "s"
}

// ParseDimSet splits a canonical dimension set into name/value pairs.
func ParseDimSet(s string) [][2]string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	out := make([][2]string, 0, len(parts))
	for _, p := range parts {
		n, v, _ := strings.Cut(p, "=")
		out = append(out, [2]string{n, v})
	}
	return out
}

// WindowTime is the window start as a time.Time in UTC.
func (t *Total) WindowTime() time.Time { return time.UnixMilli(t.Start).UTC() }
