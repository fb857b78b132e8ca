package main

import (
	"os"
	"testing"
	"time"

	"github.com/countlab/countlab/scenarios"
)

// TestRunRetentionShort runs the shipped retention-short (30 s) on the
// embedded broker and a real influxd, with two engine worker processes of
// which one is SIGKILLed mid-transaction at 8 s and restarted at 14 s:
// exact through the query service and in the store for every retained
// window of every granularity (10s, 1m and 5m totals are written in the
// same transactions, so the crash replays all of them); 10s totals expired
// during the run and are gone from the store (the sink's deletes), and
// those still retained (unless the check came too late for any) exact;
// window=auto ranges across the expired 10s totals are exact.
func TestRunRetentionShort(t *testing.T) {
	influx := testInflux(t)
	bin := buildCountlab(t)
	engineBinary = func() (string, error) { return bin, nil }
	defer func() { engineBinary = os.Executable }()
	hook := func(sc *scenarios.Scenario) {
		sc.Engine.Workers = 2
		sc.Faults = []scenarios.Fault{{Name: "kill-worker-1", Kind: "worker-crash", Start: 8 * time.Second, Duration: 6 * time.Second,
			Params: map[string]any{"worker": 1}}}
	}
	err, rep, _ := runScenario(t, hook, append([]string{"retention-short"}, influx...)...)
	if err != nil {
		t.Fatalf("run retention-short: %v", err)
	}
	if !rep.Pass || !rep.Accuracy.Exact || len(rep.Faults) != 1 {
		t.Fatalf("retention-short failed: %v; faults %v", rep.Failed(), rep.Faults)
	}
	rc := rep.Accuracy.Retention
	if rc == nil || len(rc.Granularities) != 3 {
		t.Fatalf("no retention check in the report: %+v", rc)
	}
	g := rc.Granularities[0]
	if g.Window != "10s" || g.WindowsExpired == 0 || g.ExpiredStillStored != 0 {
		t.Fatalf("10s granularity: %+v; want windows expired during the run and gone from the store", g)
	}
	if g.WindowsRetained == 0 {
		// A 10s window is retained at the check only if it ended within
		// the last 10 s (20 s kept, judged 10 s ahead): on a loaded box
		// (CI runs test processes side by side) the check can come later
		// than that after the last event time, and there is nothing of
		// that granularity left to compare; the 1m and 5m totals below
		// still are, window by window.
		t.Logf("10s granularity: %+v: every window had expired by the check (the sender's largest lag %.0f ms)", g, rep.Traffic.MaxLagMS)
	}
	for _, c := range rc.Granularities[1:] {
		if c.WindowsExpired != 0 || c.WindowsRetained == 0 {
			t.Fatalf("granularity %s: %+v, want every window retained", c.Window, c)
		}
	}
	if r := rc.Ranges; !r.Exact || r.RangesChecked == 0 || r.OverExpired == 0 {
		t.Fatalf("ranges: %+v; want exact ranges over expired 10s totals", r)
	}
	if rep.Accuracy.CountedEvents != rep.Accuracy.ExpectedEvents {
		t.Fatalf("counted %d of %d events (over the 1m totals)", rep.Accuracy.CountedEvents, rep.Accuracy.ExpectedEvents)
	}
}
