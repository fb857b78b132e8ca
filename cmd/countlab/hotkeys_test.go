package main

import (
	"testing"

	"github.com/countlab/countlab/reports"
)

// hotSplitScenario is a key space with one key taking 83% of the events
// (Zipf s=3 over 200 keys), that key split 8 ways (engine.hot_keys), sent
// half through the gateway in protobuf and half straight to Kafka in JSON.
const hotSplitScenario = `name: hot-split
description: one hot key split over the 8 partitions, through the gateway and straight to Kafka
duration: 8s
seed: 9
drain_timeout: 60s
traffic:
  rate: {shape: constant, events_per_s: 2000}
  keys: {distribution: zipf, count: 200, zipf_s: 3.0, prefix: hs-}
  types:
    - {name: VIEW, weight: 3, value_min: 1, value_max: 10}
    - {name: CLICK, weight: 1}
  duplicates: {fraction: 0.05}
  routes:
    - {via: gateway, format: protobuf}
    - {via: kafka, format: json}
  connections: 4
  batch: {max_events: 200, flush: 10ms}
probes: {queries_per_s: 5}
engine:
  partitions: 8
  workers: 2
  windows: [10s]
  hot_keys: {hs-0: 8}
slo:
  accuracy_exact: true
`

// TestRunHotKeys: a scenario's engine.hot_keys reaches the gateway, the
// engine workers and the Kafka route (the run's own key prefix put before
// it, as before the traffic's keys): the hot key's events spread over the
// partitions (the busiest takes well under the hot key's own share, which
// one partition would hold unsplit), and every window is exact in the
// query service and in InfluxDB, where the split key has one total per
// partition.
func TestRunHotKeys(t *testing.T) {
	influx := testInflux(t)
	err, rep, _ := runScenario(t, nil, append([]string{writeFile(t, hotSplitScenario)}, influx...)...) // target_test.go
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	checkExact(t, rep)
	a := rep.Accuracy
	if !a.Query.Exact || a.Store == nil || !a.Store.Exact || a.ExpectedEvents < 8000 {
		t.Fatalf("query %+v store %+v (expected %d events)", a.Query, a.Store, a.ExpectedEvents)
	}
	if rep.Series == nil || len(rep.Series.PartitionLoad) != 8 {
		t.Fatalf("partition load %+v", rep.Series)
	}
	var sum, top int64
	for _, l := range rep.Series.PartitionLoad {
		sum += l.Records
		top = max(top, l.Records)
	}
	// hs-0 is 1/zeta(3) = 83% of the events, which its partition would
	// hold unsplit. Split 8 ways, a sub-key is 10.4% (hs-1 too) and the
	// sub-keys go to partitions by the hash of "KEY#i": 70% takes 6 of
	// the 8 in one partition with hs-1 (the run's key prefix, and so the
	// hash, changes from run to run), which is not a chance worth a
	// thought.
	if share := float64(top) / float64(sum); sum == 0 || share > 0.7 {
		t.Fatalf("busiest partition took %.0f%% of %d records (load %+v, skew %.2f): the hot key was not split",
			100*share, sum, rep.Series.PartitionLoad, reports.LoadSkew(rep.Series.PartitionLoad))
	}
	t.Logf("%d events exact; partition load %+v", a.CountedEvents, rep.Series.PartitionLoad)
}
