package reports

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// TestMergeShardsPercentiles: the merged report's percentiles are those
// of one histogram of every shard's values, after a round trip of each
// shard's histograms through latency.hdr; counts add.
func TestMergeShardsPercentiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	all := hdrhistogram.New(1, 3_600_000_000, 3)
	dir := t.TempDir()
	var shards []Shard
	for i := 0; i < 4; i++ {
		h := hdrhistogram.New(1, 3_600_000_000, 3)
		for n := 0; n < 5000; n++ {
			v := int64(r.ExpFloat64()*float64(1000*(i+1))) + 1
			h.RecordValue(v)
			all.RecordValue(v)
		}
		p := filepath.Join(dir, HistogramFile)
		if err := (Histograms{IngestAck: h}).WriteFile(p); err != nil {
			t.Fatal(err)
		}
		back, err := ReadHistograms(p)
		if err != nil {
			t.Fatal(err)
		}
		if back.Freshness != nil || back.IngestAck.TotalCount() != 5000 {
			t.Fatalf("round trip: %+v", back)
		}
		shards = append(shards, Shard{Report: &Report{Scenario: "s", DurationS: 10, Pass: true,
			Traffic: Traffic{Acked: 5000, Generated: 5100}}, Histograms: back})
	}
	rep, sum, err := MergeShards(shards)
	if err != nil {
		t.Fatal(err)
	}
	if want := FromHistogram(all); rep.Latency.IngestAck != want {
		t.Fatalf("merged ingest-ack percentiles %+v, want those of the summed histogram %+v", rep.Latency.IngestAck, want)
	}
	if !sum.IngestAck.Equals(all) {
		t.Fatal("the merged histogram is not the summed one")
	}
	if rep.Traffic.Acked != 20000 || rep.Traffic.Generated != 20400 || rep.Throughput.AchievedEventsPerS != 2000 || !rep.Pass || rep.Shards != 4 {
		t.Fatalf("merged report: %+v", rep)
	}
	shards[1].Report.Scenario = "other"
	if _, _, err := MergeShards(shards); err == nil {
		t.Fatal("shards of two scenarios merged")
	}
}
