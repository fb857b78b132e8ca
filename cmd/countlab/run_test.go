package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim/oracle"
)

// testInflux starts one managed influxd for the runs of a test (skipping
// the test when the binary is missing, unless CI requires it): one start
// per test instead of one per run, with the patient test start timeout.
func testInflux(t *testing.T) []string {
	t.Helper()
	srv := influxdtest.Start(t)
	c := srv.Config()
	return []string{"--influx-url", c.URL, "--influx-org", c.Org, "--influx-bucket", c.Bucket}
}

// runScenario runs cmdRun with a hook changing the scenario, and returns
// its error and report.
func runScenario(t *testing.T, hook func(*scenarios.Scenario), args ...string) (error, *reports.Report, string) {
	t.Helper()
	dir := t.TempDir()
	runTestHook = hook
	defer func() { runTestHook = nil }()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := cmdRun(ctx, append(args, "--report-dir", dir))
	rep, rerr := reports.ReadFile(filepath.Join(dir, "report.json"))
	if rerr != nil && err == nil {
		t.Fatalf("no report: %v", rerr)
	}
	return err, rep, dir
}

// shorten shortens a scenario and gives its keys their own prefix (runs
// of one test share an InfluxDB).
func shorten(prefix string, d time.Duration, drain time.Duration) func(*scenarios.Scenario) {
	return func(sc *scenarios.Scenario) {
		sc.Traffic.Keys.Prefix = prefix
		sc.Duration = d
		sc.DrainTimeout = drain
		sc.SLO.MinThroughputEventsPerS = 0 // a loaded CI machine
	}
}

// TestRunCISmoke runs ci-smoke, shortened, on the embedded stack and
// wants an exact, passing report with the contract's keys; then a
// baseline with a far tighter p99 makes the same run fail naming it.
func TestRunCISmoke(t *testing.T) {
	influx := testInflux(t)
	err, rep, dir := runScenario(t, shorten("a-", 10*time.Second, 60*time.Second), append([]string{"ci-smoke"}, influx...)...)
	if err != nil {
		t.Fatalf("run ci-smoke: %v", err)
	}
	if !rep.Pass || !rep.Accuracy.Exact {
		t.Fatalf("pass=%v exact=%v; slo %+v accuracy %+v", rep.Pass, rep.Accuracy.Exact, rep.SLO, rep.Accuracy)
	}
	if rep.Accuracy.ExpectedEvents < 5000 || rep.Accuracy.CountedEvents != rep.Accuracy.ExpectedEvents || rep.Accuracy.Lost != 0 || rep.Accuracy.Duplicated != 0 {
		t.Fatalf("accuracy %+v", rep.Accuracy)
	}
	if rep.Traffic.Duplicates == 0 || rep.Traffic.Rejected == 0 {
		t.Fatalf("want duplicates and malformed events in the traffic: %+v", rep.Traffic)
	}
	if rep.Latency.IngestAck.Count == 0 || rep.Latency.Freshness.Count == 0 || rep.Latency.Query.Count == 0 {
		t.Fatalf("latency not measured: %+v", rep.Latency)
	}
	if s := rep.Series; s == nil || len(s.Offered) < 5 || len(s.Achieved) != len(s.Offered) || len(s.Latency) == 0 {
		t.Fatalf("report.json series: %+v", s)
	} else {
		var acked float64
		for i, p := range s.Achieved {
			dt := 1.0
			if i > 0 {
				dt = p.T.Sub(s.Achieved[i-1].T).Seconds()
			}
			acked += p.V * dt
		}
		t.Logf("series: %d samples, %d latency kinds, lag of %d partitions; achieved integrates to about %.0f of %d acked",
			len(s.Offered), len(s.Latency), len(s.Lag), acked, rep.Traffic.Acked)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"scenario", "started_at", "duration_s", "config", "throughput", "latency", "accuracy", "faults", "slo", "pass", "provenance", "cpu"} {
		if _, ok := top[k]; !ok {
			t.Errorf("report.json lacks %q", k)
		}
	}
	checkCPUBlock(t, rep, dir)
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil || !strings.Contains(string(md), "PASS") {
		t.Errorf("report.md: %v\n%s", err, md)
	}
	if truth, err := oracle.Load(filepath.Join(dir, run.TruthFile)); err != nil {
		t.Error(err)
	} else if st := truth.Stats(); st.Distinct != rep.Accuracy.ExpectedEvents {
		t.Errorf("saved truth holds %d events, the check expected %d", st.Distinct, rep.Accuracy.ExpectedEvents)
	}
	if s := rep.Accuracy.Store; s == nil || !s.Exact || s.WindowsChecked < rep.Accuracy.WindowsChecked || rep.Accuracy.ContractMismatches != 0 {
		t.Errorf("store check %+v (contract mismatches %d): want InfluxDB itself read back, exact", s, rep.Accuracy.ContractMismatches)
	}
	for _, k := range []string{`"query":`, `"store":`, `"contract_mismatches":`} {
		if !strings.Contains(string(top["accuracy"]), k) {
			t.Errorf("report.json accuracy lacks %s", k)
		}
	}

	if testing.Short() {
		return // the baseline comparison itself is unit-tested in reports
	}
	// A baseline whose ingest-ack p50 and p99 are a tenth of this run's:
	// the next run regresses.
	rep.Latency.IngestAck.P99 /= 10
	rep.Latency.IngestAck.P50 /= 10
	rep.Config.(map[string]any)["duration"] = "5s" // the gate compares runs of one duration
	b, _ := json.Marshal(rep)
	base := filepath.Join(t.TempDir(), "baseline.json")
	if err := os.WriteFile(base, b, 0o644); err != nil {
		t.Fatal(err)
	}
	err, rep2, _ := runScenario(t, shorten("b-", 5*time.Second, 60*time.Second), append([]string{"ci-smoke", "--baseline", base}, influx...)...)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("run with a tighter baseline: %v, want exit 1", err)
	}
	// One run against one: the p50 is gated, the p99 is not (README: CI
	// regression gate).
	if !strings.Contains(err.Error(), "ingest_ack_p50") || rep2.Pass || rep2.Baseline == nil {
		t.Fatalf("error %q does not name ingest_ack_p50 (report baseline %+v)", err, rep2.Baseline)
	}
}

// TestRunPlantedBug runs with a worker that mis-counts 1 event in 20:
// the checker names bad windows and the run exits 1.
func TestRunPlantedBug(t *testing.T) {
	influx := testInflux(t)
	err, rep, _ := runScenario(t, shorten("c-", 6*time.Second, 3*time.Second), append([]string{"ci-smoke", "--plant-bug=20"}, influx...)...)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("run with a planted bug: %v, want exit 1", err)
	}
	if rep.Accuracy.Exact || rep.Accuracy.MismatchedWindows == 0 || len(rep.Accuracy.WorstWindows) == 0 {
		t.Fatalf("checker missed the planted bug: %+v", rep.Accuracy)
	}
	if s := rep.Accuracy.Store; s == nil || s.Exact || s.MismatchedWindows == 0 {
		t.Fatalf("the store check missed the planted bug: %+v", s)
	}
	w := rep.Accuracy.WorstWindows[0]
	if w.Key == "" || w.GotCount == w.WantCount && w.GotSum == w.WantSum {
		t.Fatalf("worst window %+v is not a mismatch", w)
	}
	if !strings.Contains(err.Error(), "accuracy_exact") {
		t.Fatalf("error %q does not name accuracy_exact", err)
	}
	t.Logf("checker found %d bad windows, worst: %s", rep.Accuracy.MismatchedWindows, w)
}
