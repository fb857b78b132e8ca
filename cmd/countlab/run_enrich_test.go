package main

import (
	"os"
	"testing"
)

// TestRunEnrichmentShort runs the shipped enrichment-short: views per
// channel while videos arrive late, move (mid-window: the window splits),
// are renamed and deleted, 1% of the events too late (the run's
// reconcile recounts them into the channel totals too), with worker 1
// SIGKILLed during the metadata updates and restarted on its store. Every
// key window and every closed channel window is exact in the query
// service and InfluxDB, and some events counted under "(unknown)".
func TestRunEnrichmentShort(t *testing.T) {
	influx := testInflux(t)
	bin := buildCountlab(t) // the worker processes
	engineBinary = func() (string, error) { return bin, nil }
	defer func() { engineBinary = os.Executable }()
	err, rep, _ := runScenario(t, nil, append([]string{"enrichment-short"}, influx...)...)
	if err != nil {
		t.Fatalf("run enrichment-short: %v", err)
	}
	checkExact(t, rep)
	if !rep.Pass {
		t.Fatalf("enrichment-short failed: %v", rep.Failed())
	}
	as := rep.Accuracy.Attributes
	if len(as) != 1 || as[0].Attr != "channel" || !as[0].Exact || as[0].WindowsChecked < 20 {
		t.Fatalf("attribute check: %+v", as)
	}
	// Videos moved (or were known, or deleted) in the middle of windows
	// with events on both sides: both values got part of the key's
	// window, and the check above was exact against that per-event truth.
	if as[0].SplitKeyWindows == 0 {
		t.Fatalf("no key window split by the per-event join: %+v", as[0])
	}
	t.Logf("%d attribute windows exact, %d key windows split between two channels", as[0].WindowsChecked, as[0].SplitKeyWindows)
	// The late events: on-time check first, then the run's reconcile
	// recounted them into the key and the channel totals, and the checks
	// above were against the truth with them.
	if rc := rep.Accuracy.Reconcile; rc == nil || rc.WindowsRewritten == 0 || rep.Accuracy.LateEvents == 0 {
		t.Fatalf("no reconcile of late events: %+v (late %d)", rc, rep.Accuracy.LateEvents)
	}
	if len(rep.Faults) != 1 {
		t.Fatalf("the worker crash: %+v", rep.Faults)
	}
}
