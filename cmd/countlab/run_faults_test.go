package main

import (
	"errors"
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
	f := faultMap(rep.Faults[0])
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

// TestRunWorkerCrashAtLeastOnce shows that the exactness check can fail:
// worker-crash, shortened, with the engine workers in the test-only
// at-least-once mode (no transactions, no dedup restore). Each worker is
// SIGKILLed once and restarted; the duplicates the gateway re-sends of
// events counted before a kill are counted again after it (the dedup state
// is gone), and totals flushed before the offset commit are replayed. The
// run must fail its accuracy SLO with events counted twice.
func TestRunWorkerCrashAtLeastOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("short: TestRunWorkerCrash covers worker-crash")
	}
	influx := testInflux(t)
	bin := buildCountlab(t)
	engineBinary = func() (string, error) { return bin, nil }
	defer func() { engineBinary = os.Executable }()
	short := shorten("wa-", 14*time.Second, 15*time.Second)
	hook := func(sc *scenarios.Scenario) {
		short(sc)
		sc.Engine.Workers = 2
		kill := func(name string, worker int, start time.Duration) scenarios.Fault {
			return scenarios.Fault{Name: name, Kind: "worker-crash", Start: start, Duration: 2 * time.Second,
				Params: map[string]any{"worker": worker}}
		}
		sc.Faults = []scenarios.Fault{kill("kill-worker-1", 1, 3*time.Second), kill("kill-worker-0", 0, 7*time.Second)}
	}
	err, rep, _ := runScenario(t, hook, append([]string{"worker-crash", "--at-least-once-UNSAFE"}, influx...)...)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("want an SLO failure (exit code 1), got %v", err)
	}
	if rep == nil {
		t.Fatal("no report")
	}
	a := rep.Accuracy
	if rep.Pass || a.Exact || a.Duplicated <= 0 || a.MismatchedWindows == 0 || a.ExpectedEvents < 1000 {
		t.Fatalf("want a failing run with duplicates counted: pass=%v accuracy %+v", rep.Pass, a)
	}
	if !strings.Contains(err.Error(), "accuracy") {
		t.Errorf("the failure does not name accuracy: %v", err)
	}
	if len(rep.Faults) != 2 {
		t.Fatalf("faults %v", rep.Faults)
	}
	t.Logf("at-least-once: %d events counted for %d expected: %d duplicated, %d lost, %d of %d windows mismatched",
		a.CountedEvents, a.ExpectedEvents, a.Duplicated, a.Lost, a.MismatchedWindows, a.WindowsChecked)
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
	if h := faultMap(rep.Faults[0])["hits"].(float64); h == 0 {
		t.Errorf("no request failed: %v", rep.Faults[0])
	}
}
