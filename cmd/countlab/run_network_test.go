package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// netChaos shortens a network chaos scenario to d of traffic and moves
// its faults to the given start times and durations (pairs), in order.
func netChaos(prefix string, d time.Duration, times ...time.Duration) func(*scenarios.Scenario) {
	short := shorten(prefix, d, 60*time.Second)
	return func(sc *scenarios.Scenario) {
		short(sc)
		for i := range sc.Faults {
			sc.Faults[i].Start, sc.Faults[i].Duration = times[2*i], times[2*i+1]
		}
	}
}

// checkNetChaos wants a passing, exact run whose faults (of the given
// kinds, in order) were each injected, healed and recovered from.
func checkNetChaos(t *testing.T, err error, rep *reports.Report, dir string, kinds ...string) []map[string]any {
	t.Helper()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	a := rep.Accuracy
	if !rep.Pass || !a.Exact || a.ExpectedEvents < 1000 || a.CountedEvents != a.ExpectedEvents || a.Lost != 0 || a.Duplicated != 0 || a.MismatchedWindows != 0 {
		t.Fatalf("pass=%v accuracy %+v", rep.Pass, a)
	}
	if len(rep.Faults) != len(kinds) {
		t.Fatalf("faults %v, want %d", rep.Faults, len(kinds))
	}
	var out []map[string]any
	for i, kind := range kinds {
		f := faultMap(rep.Faults[i])
		inj, _ := time.Parse(time.RFC3339Nano, f["injected_at"].(string))
		healed, _ := time.Parse(time.RFC3339Nano, f["healed_at"].(string))
		rec, ok := f["recovery_s"].(float64)
		if f["kind"] != kind || f["error"] != nil || inj.IsZero() || !healed.After(inj) || !ok || rec < 0 {
			t.Fatalf("fault record %d: %v", i, f)
		}
		t.Logf("%s (%s): injected %s, healed %s, recovered %.2fs after the heal", f["name"], kind,
			inj.Format(time.TimeOnly), healed.Format(time.TimeOnly), rec)
		out = append(out, f)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil || !strings.Contains(string(md), "## Faults") || !strings.Contains(string(md), kinds[0]) {
		t.Errorf("report.md has no faults section: %v", err)
	}
	t.Logf("%d events exact in %d windows", a.CountedEvents, a.WindowsChecked)
	return out
}

// TestRunNetworkPartition runs network-partition, shortened: the engine
// cut from the broker for 5 s, then the sink from InfluxDB for 5 s
// (blackholed through the stack's toxiproxy proxies); exact, and a
// recovery time per fault.
func TestRunNetworkPartition(t *testing.T) {
	influx := testInflux(t)
	s := time.Second
	err, rep, dir := runScenario(t, netChaos("np-", 20*s, 3*s, 5*s, 11*s, 5*s), append([]string{"network-partition"}, influx...)...)
	checkNetChaos(t, err, rep, dir, "network-partition", "network-partition")
	checkCut(t, rep)
}

// TestRunNetworkPartitionEngineProcs is TestRunNetworkPartition with two
// engine worker processes: they dial the broker through the proxies
// given as --broker-map.
func TestRunNetworkPartitionEngineProcs(t *testing.T) {
	if testing.Short() {
		t.Skip("short: TestRunNetworkPartition covers network-partition, TestNetProxies the worker process flags")
	}
	influx := testInflux(t)
	bin := buildCountlab(t)
	engineBinary = func() (string, error) { return bin, nil }
	defer func() { engineBinary = os.Executable }()
	s := time.Second
	short := netChaos("npp-", 20*s, 3*s, 5*s, 11*s, 5*s)
	hook := func(sc *scenarios.Scenario) { short(sc); sc.Engine.Workers = 2 }
	err, rep, dir := runScenario(t, hook, append([]string{"network-partition", "--engine-procs"}, influx...)...)
	checkNetChaos(t, err, rep, dir, "network-partition", "network-partition")
	checkCut(t, rep)
}

// checkCut wants the 5 s cuts to show in the freshness: some tracer event
// was counted only after a heal.
func checkCut(t *testing.T, rep *reports.Report) {
	t.Helper()
	if f := rep.Latency.Freshness; f.Max < 3000 {
		t.Errorf("freshness max %.0f ms: a 5 s cut of the pipeline did not show", f.Max)
	}
}

// TestRunNetworkLatency runs network-latency, shortened: latency with
// jitter, a bandwidth limit, resets and slow closes on both links in turn,
// then 5xx answers from InfluxDB; exact, a recovery time per fault, and
// the sink-errors fault hit.
func TestRunNetworkLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("short: TestRunNetworkPartition covers the network proxies end to end")
	}
	influx := testInflux(t)
	s := time.Second
	short := netChaos("nl-", 24*s,
		2*s, 3*s, 2*s, 3*s, // latency
		6*s, 3*s, 6*s, 3*s, // bandwidth
		10*s, 2*s, 10*s, 2*s, // reset
		13*s, 3*s, 13*s, 3*s, // slow close
		17*s, 6*s, // sink-errors
	)
	hook := func(sc *scenarios.Scenario) {
		short(sc)
		// The sink lingers 3 s per write: in 6 s, 2 requests or so, which
		// the scenario's 30% misses half the time; every request fails
		// while the fault lasts instead.
		sc.Faults[8].Params["probability"] = 1.0
	}
	err, rep, dir := runScenario(t, hook, append([]string{"network-latency"}, influx...)...)
	fs := checkNetChaos(t, err, rep, dir, "network-latency", "sink-slow", "network-bandwidth", "network-bandwidth",
		"network-reset", "network-reset", "network-slow-close", "network-slow-close", "sink-errors")
	if h, _ := fs[8]["hits"].(float64); h == 0 {
		t.Errorf("sink-errors failed no request: %v", fs[8])
	}
}
