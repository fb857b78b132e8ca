package main

import (
	"os"
	"testing"
)

// TestRunEnrichmentShort runs the shipped enrichment-short: views per
// channel while videos arrive late, move and are renamed, with worker 1
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
	if len(rep.Faults) != 1 {
		t.Fatalf("the worker crash: %+v", rep.Faults)
	}
}
