package main

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// useBuiltCountlab makes the stack start its `countlab engine` and
// `countlab broker` processes from a built binary (the test binary has
// no such commands).
func useBuiltCountlab(t *testing.T) {
	t.Helper()
	bin := buildCountlab(t)
	engineBinary = func() (string, error) { return bin, nil }
	t.Cleanup(func() { engineBinary = os.Executable })
}

// reschedule shortens a chaos scenario to traffic for d and gives its
// faults these starts and durations (as many faults as pairs).
func reschedule(prefix string, d time.Duration, at ...time.Duration) func(*scenarios.Scenario) {
	short := shorten(prefix, d, 60*time.Second)
	return func(sc *scenarios.Scenario) {
		short(sc)
		sc.Faults = sc.Faults[:len(at)/2]
		for i := range sc.Faults {
			sc.Faults[i].Start, sc.Faults[i].Duration = at[2*i], at[2*i+1]
		}
	}
}

// checkChaosAll wants a passing, exact run whose faults (n, of kind)
// were each injected, healed and recovered from.
func checkChaosAll(t *testing.T, err error, rep *reports.Report, n int, kinds ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	a := rep.Accuracy
	if !rep.Pass || !a.Exact || a.ExpectedEvents < 1000 || a.CountedEvents != a.ExpectedEvents || a.Lost != 0 || a.Duplicated != 0 || a.MismatchedWindows != 0 {
		t.Fatalf("pass=%v accuracy %+v", rep.Pass, a)
	}
	if len(rep.Faults) != n {
		t.Fatalf("%d faults, want %d: %v", len(rep.Faults), n, rep.Faults)
	}
	for _, r := range rep.Faults {
		f, _ := r.(map[string]any)
		inj, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(f["injected_at"]))
		healed, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(f["healed_at"]))
		rec, ok := f["recovery_s"].(float64)
		if !slices.Contains(kinds, fmt.Sprint(f["kind"])) || f["error"] != nil || inj.IsZero() || !healed.After(inj) || !ok || rec < 0 {
			t.Fatalf("fault record %v", f)
		}
		t.Logf("%s %s: injected %s, healed %s (heal took %.2fs), recovered %.2fs after the heal",
			f["kind"], f["name"], inj.Format("15:04:05.000"), healed.Format("15:04:05.000"), f["heal_s"], rec)
	}
	t.Logf("%d events exact in %d windows; traffic %+v", a.CountedEvents, a.WindowsChecked, rep.Traffic)
}

// TestRunBrokerCrash runs broker-crash, shortened: the broker process is
// SIGKILLed mid-traffic and restarted on the same port and data dir
// twice; the run must be exact and record each recovery.
func TestRunBrokerCrash(t *testing.T) {
	influx := testInflux(t)
	useBuiltCountlab(t)
	at := []time.Duration{4 * time.Second, 4 * time.Second, 13 * time.Second, 3 * time.Second}
	if testing.Short() {
		at = at[:2]
	}
	err, rep, _ := runScenario(t, reschedule("bc-", 20*time.Second, at...), append([]string{"broker-crash"}, influx...)...)
	checkChaosAll(t, err, rep, len(at)/2, "broker-crash")
}

// TestRunWorkerPause runs worker-pause, shortened: a worker process is
// frozen longer than the session and transaction timeouts, fenced, and
// thawed; the zombie must not double count.
func TestRunWorkerPause(t *testing.T) {
	if testing.Short() {
		t.Skip("short: TestRunWorkerCrash covers worker processes")
	}
	influx := testInflux(t)
	useBuiltCountlab(t)
	err, rep, _ := runScenario(t, reschedule("wp-", 24*time.Second, 4*time.Second, 13*time.Second), append([]string{"worker-pause"}, influx...)...)
	checkChaosAll(t, err, rep, 1, "worker-pause")
}

// TestRunRebalanceChurn runs rebalance-churn, shortened: workers added
// and removed (gracefully) four times while the traffic flows; exact.
func TestRunRebalanceChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("short: TestRunBrokerCrash covers the fault schedule")
	}
	influx := testInflux(t)
	useBuiltCountlab(t)
	s := time.Second
	err, rep, _ := runScenario(t, reschedule("rc-", 24*s, 3*s, 6*s, 6*s, 5*s, 12*s, 5*s, 16*s, 4*s), append([]string{"rebalance-churn"}, influx...)...)
	checkChaosAll(t, err, rep, 4, "worker-add", "worker-remove")
}
