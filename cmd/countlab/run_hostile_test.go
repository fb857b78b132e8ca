package main

import (
	"testing"
)

// TestRunHostileInputShort runs the shipped hostile-input-short (8 s, every
// hostile kind over the gateway and Kafka in JSON and protobuf): every
// accepted event counted exactly, the refused ones not at all, and the
// run passes. It needs the contract's validation (ingest), engine and
// oracle in place.
func TestRunHostileInputShort(t *testing.T) {
	influx := testInflux(t)
	err, rep, _ := runScenario(t, nil, append([]string{"hostile-input-short"}, influx...)...)
	if err != nil {
		t.Fatalf("run hostile-input-short: %v", err)
	}
	checkExact(t, rep)
	if !rep.Pass {
		t.Fatalf("hostile-input-short failed: %v", rep.Failed())
	}
	if rep.Traffic.Rejected == 0 || rep.Traffic.Acked == 0 {
		t.Fatalf("want refused and accepted events: %+v", rep.Traffic)
	}
}
