package reports

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
	"time"
)

func TestLoadSkew(t *testing.T) {
	f := func(load []PartitionLoad, want float64) {
		t.Helper()
		if got := LoadSkew(load); got != want {
			t.Errorf("LoadSkew(%v) = %g, want %g", load, got, want)
		}
	}
	f(nil, 0)
	f([]PartitionLoad{{0, 0}, {1, 0}}, 0)
	f([]PartitionLoad{{0, 10}, {1, 10}}, 1)
	f([]PartitionLoad{{0, 30}, {1, 10}}, 1.5)
	f([]PartitionLoad{{0, 40}, {1, 0}, {2, 0}, {3, 0}}, 4)
}

func TestPartitionLoadChart(t *testing.T) {
	for _, n := range []int{1, 4, 64} {
		load := make([]PartitionLoad, n)
		for i := range load {
			load[i] = PartitionLoad{Partition: int32(i), Records: int64(100 * (i + 1))}
		}
		b, err := PartitionLoadChart(load)
		if err != nil {
			t.Fatalf("%d partitions: %v", n, err)
		}
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Fatalf("%d partitions: not a PNG: %v", n, err)
		}
	}
	if _, err := PartitionLoadChart(nil); err == nil {
		t.Fatal("no partitions: want an error")
	}
}

func TestWriteSeries(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ts := &TimeSeries{
		Latency: []LatencySeries{
			{Kind: "ingest_ack", Percentiles: []Series{{Name: "p50"}, {Name: "p99"}}},
			{Kind: "freshness", Percentiles: []Series{{Name: "each tracer", Points: []Point{{at(5), 120}, {at(6), 80}}}}},
		},
		Lag:           []Series{{Name: "partition 0"}, {Name: "partition 1"}},
		PartitionLoad: []PartitionLoad{{0, 300}, {1, 100}},
	}
	for s := 1; s <= 24; s++ {
		ts.Offered = append(ts.Offered, Point{at(s), 1000})
		ts.Achieved = append(ts.Achieved, Point{at(s), float64(900 + s)})
		ts.Latency[0].Percentiles[1].Points = append(ts.Latency[0].Percentiles[1].Points, Point{at(s), float64(s)})
		ts.Lag[0].Points = append(ts.Lag[0].Points, Point{at(s), float64(10 * s)})
		ts.Lag[1].Points = append(ts.Lag[1].Points, Point{at(s), 1})
	}
	var b strings.Builder
	writeSeries(&b, ts)
	md := b.String()
	for _, want := range []string{
		"| from (s) | offered ev/s | achieved ev/s | ingest_ack p99 ms | freshness max ms | engine lag (records) |",
		// The first interval (s = 1, 2) has the mean of the achieved
		// rates, the largest p99 and the largest total lag.
		"| 0.0 | 1000 | 902 | 2 | – | 21 |",
		// The freshness tracers at 5 s and 6 s fall in the third interval
		// (23 s / 12 intervals: 3.8–5.8 s after the first sample).
		"| 3.8 | 1000 | 906 | 6 | 120 | 61 |",
		"(largest / mean = 1.50): 0: 300; 1: 100;",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md series lacks %q:\n%s", want, md)
		}
	}
	b.Reset()
	writeSeries(&b, nil)
	if b.Len() != 0 {
		t.Errorf("no series: wrote %q", b.String())
	}
}
