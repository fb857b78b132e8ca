package main

import (
	"os"
	"testing"
)

// TestRunEnrichmentShort runs the shipped enrichment-short: views per
// channel while videos arrive late, move (mid-window: the window splits),
// are renamed and deleted, with worker 1
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
	if len(rep.Faults) != 1 {
		t.Fatalf("the worker crash: %+v", rep.Faults)
	}
}
