package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// chaos shortens a chaos scenario: traffic for d, its first fault at
// start for dur.
func chaos(prefix string, d, start, dur time.Duration) func(*scenarios.Scenario) {
	short := shorten(prefix, d, 60*time.Second)
	return func(sc *scenarios.Scenario) {
		short(sc)
		sc.Faults = sc.Faults[:1]
		sc.Faults[0].Start, sc.Faults[0].Duration = start, dur
	}
}

// checkChaos wants a passing, exact run whose one fault was injected,
// healed and recovered from.
func checkChaos(t *testing.T, err error, rep *reports.Report, dir, kind string) {
	t.Helper()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	a := rep.Accuracy
	if !rep.Pass || !a.Exact || a.ExpectedEvents < 1000 || a.CountedEvents != a.ExpectedEvents || a.Lost != 0 || a.Duplicated != 0 {
		t.Fatalf("pass=%v accuracy %+v", rep.Pass, a)
	}
	if len(rep.Faults) != 1 {
		t.Fatalf("faults %v", rep.Faults)
	}
	f, _ := rep.Faults[0].(map[string]any)
	inj, _ := time.Parse(time.RFC3339Nano, f["injected_at"].(string))
	healed, _ := time.Parse(time.RFC3339Nano, f["healed_at"].(string))
	rec, _ := f["recovery_s"].(float64)
	if f["kind"] != kind || f["error"] != nil || inj.IsZero() || !healed.After(inj) || rec < 0 {
		t.Fatalf("fault record %v", f)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil || !strings.Contains(string(md), "## Faults") || !strings.Contains(string(md), kind) {
		t.Errorf("report.md has no faults section: %v", err)
	}
	t.Logf("%s: injected %s, healed %s, recovered %.2fs after the heal; %d events exact in %d windows",
		kind, inj.Format(time.TimeOnly), healed.Format(time.TimeOnly), rec, a.CountedEvents, a.WindowsChecked)
}

// TestRunWorkerCrash runs worker-crash, shortened: two engine worker
// processes, one SIGKILLed mid-run and restarted; the run must be exact
// and record the recovery.
func TestRunWorkerCrash(t *testing.T) {
	influx := testInflux(t)
	bin := buildCountlab(t)
	engineBinary = func() (string, error) { return bin, nil }
	defer func() { engineBinary = os.Executable }()
	err, rep, dir := runScenario(t, chaos("wc-", 12*time.Second, 4*time.Second, 4*time.Second), append([]string{"worker-crash"}, influx...)...)
	checkChaos(t, err, rep, dir, "worker-crash")
}

// TestRunSinkOutage runs sink-outage, shortened, on the stack's own
// managed influxd (SIGKILLed and restarted); the run must be exact and
// record the recovery.
func TestRunSinkOutage(t *testing.T) {
	influxdtest.Require(t)
	err, rep, dir := runScenario(t, chaos("so-", 12*time.Second, 3*time.Second, 4*time.Second), "sink-outage")
	checkChaos(t, err, rep, dir, "sink-outage")
}

// TestRunBrokerErrors runs broker-errors, shortened: produce requests fail
// with NOT_LEADER_FOR_PARTITION for a while; exact, and the fault hit.
func TestRunBrokerErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("short: worker-crash and sink-outage cover the fault schedule")
	}
	influx := testInflux(t)
	err, rep, dir := runScenario(t, chaos("be-", 10*time.Second, 3*time.Second, 4*time.Second), append([]string{"broker-errors"}, influx...)...)
	checkChaos(t, err, rep, dir, "broker-errors")
	if h, _ := rep.Faults[0].(map[string]any)["hits"].(float64); h == 0 {
		t.Errorf("no request failed: %v", rep.Faults[0])
	}
}
