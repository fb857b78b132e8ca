package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// TestRunAbort runs abort-demo: its impossible lag bound stops the 60 s
// run within seconds; report.json says why and when; exit 1.
func TestRunAbort(t *testing.T) {
	influx := testInflux(t)
	t0 := time.Now()
	err, rep, _ := runScenario(t, func(sc *scenarios.Scenario) {
		sc.Traffic.Keys.Prefix = "abort-"
		sc.DrainTimeout = 10 * time.Second
	}, append([]string{"abort-demo"}, influx...)...)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("abort-demo: %v, want exit 1", err)
	}
	a := rep.Aborted
	if a == nil || a.AtS <= 0 || a.AtS > 20 || !strings.HasPrefix(a.Condition, "abort[") || !strings.Contains(a.Reason, "beyond its bound") {
		t.Fatalf("report aborted %+v", a)
	}
	if rep.DurationS > 25 || rep.Pass || !strings.Contains(err.Error(), "aborted at") {
		t.Fatalf("ran %.0fs of 60, pass %v, err %v", rep.DurationS, rep.Pass, err)
	}
	if !rep.Accuracy.Exact {
		t.Fatalf("what was acknowledged before the abort is not counted exactly: %+v", rep.Accuracy)
	}
	t.Logf("aborted at %.1fs (%s: %s); the whole run took %s", a.AtS, a.Condition, a.Reason, time.Since(t0).Round(time.Second))
}

// unhealthyYAML is a chaos scenario whose steady state cannot hold.
const unhealthyYAML = `name: unhealthy
duration: 20s
drain_timeout: 10s
traffic:
  rate: {events_per_s: 300}
  keys: {count: 20, zipf_s: 1.1, prefix: steady-}
  connections: 2
engine: {partitions: 2, windows: [10s]}
faults:
  - {name: skew, kind: clock-skew, start: 4s, duration: 3s, params: {share: 0.5, offset: 1s}}
steady_state:
  window: 2s
  checks:
    - {probe: ingest_ack_p99_ms, max: 0.001}  # no acknowledgement takes under 1 µs
slo: {accuracy_exact: true}
`

// TestRunSteadyStateRefuses runs a chaos scenario whose steady state
// cannot hold: no fault is injected and the run fails with the reason.
func TestRunSteadyStateRefuses(t *testing.T) {
	influx := testInflux(t)
	err, rep, _ := runScenario(t, nil, append([]string{writeFile(t, unhealthyYAML)}, influx...)...) // target_test.go
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("unhealthy: %v, want exit 1", err)
	}
	if ss := rep.SteadyState; ss == nil || ss.Pass || len(ss.Checks) != 1 || ss.Checks[0].Pass {
		t.Fatalf("steady state %+v", rep.SteadyState)
	}
	if a := rep.Aborted; a == nil || a.Condition != "steady_state" || a.AtS < 3.5 || a.AtS > 6 {
		t.Fatalf("aborted %+v", rep.Aborted)
	}
	if len(rep.Faults) != 1 {
		t.Fatalf("faults %v", rep.Faults)
	}
	f := faultMap(rep.Faults[0])
	if e, _ := f["error"].(string); !strings.Contains(e, "not injected: steady state") || f["injected_at"] != nil {
		t.Fatalf("fault %v was injected or has no reason", f)
	}
	if !strings.Contains(err.Error(), "steady state not met") {
		t.Fatalf("error %q lacks the reason", err)
	}

	// A healthy target: the steady state holds, the fault is injected and
	// report.json has its phases beside its recovery time, with the phase
	// SLO.
	healthy := strings.Replace(strings.Replace(unhealthyYAML, "max: 0.001}", "max: 5000}", 1), "slo: {accuracy_exact: true}",
		"phase_slo:\n  - {probe: achieved_events_per_s, min: 1, phase: during}\nslo: {accuracy_exact: true}", 1)
	err, rep, _ = runScenario(t, func(sc *scenarios.Scenario) { sc.Duration = 10 * time.Second; sc.Traffic.Keys.Prefix = "healthy-" }, append([]string{writeFile(t, healthy)}, influx...)...)
	if err != nil || rep.Aborted != nil || rep.SteadyState == nil || !rep.SteadyState.Pass {
		t.Fatalf("healthy: %v; aborted %+v, steady state %+v", err, rep.Aborted, rep.SteadyState)
	}
	if len(rep.FaultPhases) != 1 || len(rep.FaultPhases[0].Phases) != 3 || rep.FaultPhases[0].RecoveryS < 0 {
		t.Fatalf("fault phases %+v", rep.FaultPhases)
	}
	during := rep.FaultPhases[0].Phases[1]
	if during.Phase != "during" || len(during.SLO) != 1 || !during.SLO[0].Pass || during.Worst["achieved_events_per_s"] <= 0 {
		t.Fatalf("during %+v", during)
	}
	t.Logf("phases of %s (recovered %.1fs): %+v", rep.FaultPhases[0].Fault, rep.FaultPhases[0].RecoveryS, rep.FaultPhases[0].Phases)
}

func TestProbeNames(t *testing.T) {
	if !slices.Equal(scenarios.ProbeNames, reports.Probes) {
		t.Fatalf("scenarios.ProbeNames %v != reports.Probes %v", scenarios.ProbeNames, reports.Probes)
	}
}

// gateFixture writes a report.json of scenario sc (config: duration and
// seed) with the given query p50 and returns its directory.
func gateFixture(t *testing.T, sc, duration string, queryP50 float64) string {
	t.Helper()
	r := &reports.Report{
		Scenario: sc, StartedAt: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), DurationS: 30,
		Config:     map[string]any{"name": sc, "duration": duration, "seed": 7},
		Throughput: reports.Throughput{OfferedEventsPerS: 1000, AchievedEventsPerS: 995},
		Latency: reports.Latencies{
			IngestAck: reports.Percentiles{P50: 3.3, P90: 5.5, P99: 8, P999: 16.7, Max: 34, Count: 29846},
			Query:     reports.Percentiles{P50: queryP50, P90: queryP50 + 1, P99: queryP50 + 5, P999: queryP50 + 7, Max: queryP50 + 7, Count: 300},
		},
		Accuracy: reports.Accuracy{ExpectedEvents: 28357, CountedEvents: 28357, WindowsChecked: 1626, Exact: true},
		Faults:   []reports.FaultRecord{},
	}
	r.EvaluateSLO(reports.Thresholds{AccuracyExact: true})
	dir := t.TempDir()
	if err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReportDiffGate: report diff takes run directories, gates with the
// rank test and minimum effects, and refuses (exit 2) what is not a
// comparable report.
func TestReportDiffGate(t *testing.T) {
	base := gateFixture(t, "ci-smoke", "30s", 1.1)
	code := func(args ...string) (int, string) {
		var out bytes.Buffer
		err := cmdReportDiff(&out, args)
		var ee exitError
		var ue usageError
		switch {
		case err == nil:
			return 0, out.String()
		case errors.As(err, &ee):
			return ee.code, out.String() + err.Error()
		case errors.As(err, &ue):
			return 2, err.Error()
		}
		return -1, err.Error()
	}
	if c, out := code(base, gateFixture(t, "ci-smoke", "30s", 1.2)); c != 0 || !strings.Contains(out, "not gated: 300 samples behind p999, 10,000 needed") {
		t.Fatalf("same build: exit %d\n%s", c, out)
	}
	if c, out := code(base, gateFixture(t, "ci-smoke", "30s", 6.1)); c != 1 || !strings.Contains(out, "query_p50") {
		t.Fatalf("+5 ms queries: exit %d\n%s", c, out)
	}
	empty := filepath.Join(t.TempDir(), "empty.json")
	if err := os.WriteFile(empty, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"{} file":        {base, empty},
		"{} not a path":  {base, "{}"},
		"other scenario": {base, gateFixture(t, "quickstart", "30s", 1.1)},
		"other duration": {base, gateFixture(t, "ci-smoke", "10s", 1.1)},
	} {
		if c, out := code(args...); c != 2 {
			t.Errorf("%s: exit %d, want 2\n%s", name, c, out)
		}
	}
}

// TestPlantedRegressions: the hidden flags' query delay and halved
// gateway cap.
func TestPlantedRegressions(t *testing.T) {
	args, p, err := takePlantedRegressions([]string{"ci-smoke", "--plant-query-delay-ms=5", "--plant-slow-gateway"})
	if err != nil || len(args) != 1 || p.queryDelayMS != 5 || !p.slowGateway {
		t.Fatalf("%v %+v %v", args, p, err)
	}
	sc, err := scenarios.Lookup("ci-smoke")
	if err != nil {
		t.Fatal(err)
	}
	p.apply(sc)
	if sc.Engine.GatewayMaxEventsPerS != 500 {
		t.Fatalf("gateway cap %v, want half of 1000", sc.Engine.GatewayMaxEventsPerS)
	}
	if len(p.stackOpts()) != 1 {
		t.Fatalf("planted query delay: %d stack options, want 1", len(p.stackOpts()))
	}
	srv := httptest.NewServer(delayHandler(5 * time.Millisecond)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})))
	defer srv.Close()
	t0 := time.Now()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := time.Since(t0); d < 5*time.Millisecond {
		t.Fatalf("answered in %s, want at least 5ms", d)
	}
}

// TestRunRepeat runs ci-smoke twice (--repeat 2, shortened), then with
// each planted regression against those two runs as its baseline: each
// run has its report, summary.json has both, the gate catches both.
func TestRunRepeat(t *testing.T) {
	if testing.Short() {
		t.Skip("three runs")
	}
	influx := testInflux(t)
	runTestHook = shorten("rep-", 3*time.Second, 30*time.Second)
	defer func() { runTestHook = nil }()
	dir := t.TempDir()
	if err := cmdRun(t.Context(), append([]string{"ci-smoke", "--repeat", "2", "--report-dir", dir}, influx...)); err != nil {
		t.Fatalf("--repeat 2: %v", err)
	}
	var sum run.RepeatSummary
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil || json.Unmarshal(b, &sum) != nil || len(sum.Runs) != 2 || !sum.Pass {
		t.Fatalf("summary.json %s (%v)", b, err)
	}
	// The planted regressions, each one run against the two: caught.
	for plant, metric := range map[string]string{"--plant-query-delay-ms=5": "query_p50", "--plant-slow-gateway": "achieved_events_per_s"} {
		one := t.TempDir()
		err = cmdRun(t.Context(), append([]string{"ci-smoke", plant, "--baseline", dir, "--report-dir", one}, influx...))
		rep, rerr := reports.ReadFile(filepath.Join(one, "report.json"))
		if rerr != nil {
			t.Fatal(rerr)
		}
		c := rep.Baseline
		if c == nil || c.BaselineRuns != 2 || c.Runs != 1 || len(c.Metrics) == 0 {
			t.Fatalf("%s: baseline %+v (run error %v)", plant, c, err)
		}
		var ee exitError
		if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(err.Error(), "regressed "+metric) {
			t.Fatalf("%s: %v, want exit 1 naming %s", plant, err, metric)
		}
		t.Logf("%s, one run vs 2 baseline runs: regressed %v; flags %v", plant, c.Regressed, c.Flags)
	}
	// Against another scenario's runs: refused before the run.
	err = cmdRun(t.Context(), append([]string{"quickstart", "--baseline", dir, "--report-dir", t.TempDir()}, influx...))
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "different scenarios") {
		t.Fatalf("quickstart against ci-smoke runs: %v, want a usage error", err)
	}
}
