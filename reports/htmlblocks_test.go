package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/sim/oracle"
)

// blocksFixture is failingFixture with every optional block of
// report.json set: the abort, the steady state, the fault phases, the
// gate (regressed, passed and not-gated metrics, a flag), the store's
// check, contract mismatches, the reconcile, CPU, provenance and shards.
func blocksFixture() *Report {
	r := failingFixture()
	t0 := r.StartedAt
	r.Aborted = &Aborted{Reason: "engine_lag_records 90000 > 50000 for 5 s", AtS: 21.5, Condition: "abort[0]"}
	r.SteadyState = &SteadyState{Pass: false, From: t0, To: t0.Add(10 * time.Second), Checks: []SLOResult{
		{Name: ProbeIngestAckP99, Kind: "max", Threshold: 50, Value: 12, Pass: true},
		{Name: ProbeEngineLag, Kind: "max", Threshold: 1000, Value: 4321, Pass: false},
	}}
	ph := func(name string, from time.Duration, worst map[string]float64, slo ...SLOResult) Phase {
		return Phase{Phase: name, From: t0.Add(from), To: t0.Add(from + 5*time.Second), Worst: worst, SLO: slo}
	}
	r.FaultPhases = []FaultPhases{
		{Fault: "restart-1", Kind: "broker-restart", RecoveryS: 2.5, Phases: []Phase{
			ph("before", 5*time.Second, map[string]float64{ProbeEngineLag: 10, ProbeIngestErrorShare: 0, ProbeIngestAckP99: 7, ProbeAchieved: 1000}),
			ph("during", 10*time.Second, map[string]float64{ProbeEngineLag: 7777, ProbeIngestErrorShare: 0.125, ProbeIngestAckP99: 900, ProbeAchieved: 310},
				SLOResult{Name: "during:ingest_error_share <= 0.05", Kind: "max", Threshold: 0.05, Value: 0.125}),
			ph("after", 14*time.Second, map[string]float64{ProbeEngineLag: 20, ProbeIngestAckP99: 9, ProbeAchieved: 990},
				SLOResult{Name: "after:achieved_events_per_s >= 900", Kind: "min", Threshold: 900, Value: 990, Pass: true}),
		}},
		{Fault: "stuck", Kind: "worker-kill", RecoveryS: -1, Phases: []Phase{ph("during", 20*time.Second, map[string]float64{})}},
	}
	r.Baseline.Flags = []string{"the baseline ran on another machine (8 x other CPU)"}
	r.Accuracy.Store = &WindowCheck{WindowsChecked: 900, MismatchedWindows: 1, CountedEvents: 18995, Lost: 5}
	r.Accuracy.ContractMismatches = 1
	r.Accuracy.ContractMismatchExamples = []oracle.Mismatch{{Kind: "acked-invalid", Want: "bad_ts", Key: "k9", ID: "id-42"}}
	r.Accuracy.Reconcile = &ReconcileCheck{OnTimeExact: true, EventsRecounted: 1234, WindowsRewritten: 56, DurationS: 1.5}
	r.Traffic.Throttled = 4242
	r.CPU = &CPU{WindowS: 30, Events: 19000, EventsPerCoreS: 8765, TotalsPerEvent: 0.25, PointsPerEvent: 0.5,
		Processes: []ProcessCPU{{Name: "influxd", PIDs: []int{77}, Role: RoleSUT, CPUCost: CPUCost{CPUS: 3, Cores: 0.1}}},
		Notes:     []string{"the broker runs in-process"}, ProfileError: "profile: no samples"}
	r.Provenance = &Provenance{Module: "github.com/countlab/countlab", Version: "v0.0.0-test", VCSRevision: "abc123", GoVersion: "go1.x",
		OS: "linux", Arch: "amd64", CPUs: 2, CPUModel: "Test CPU", Hostname: "box", CommandLine: []string{"countlab", "run", "x.yaml"}}
	r.Shards = 3
	return r
}

// COUNTLAB_REPORT_HTML_OUT, when set, is a directory TestHTMLBlocks also
// writes its page to, to look at it in a browser.
func TestHTMLBlocks(t *testing.T) {
	render := func(r *Report) string {
		t.Helper()
		var b bytes.Buffer
		if err := r.WriteHTML(&b); err != nil {
			t.Fatal(err)
		}
		checkBalanced(t, r.Scenario, b.String())
		return b.String()
	}
	r := blocksFixture()
	out := render(r)
	for _, dir := range []string{t.TempDir(), os.Getenv("COUNTLAB_REPORT_HTML_OUT")} {
		if dir == "" {
			continue
		}
		if err := r.WriteHTMLFile(filepath.Join(dir, "report.html")); err != nil {
			t.Fatal(err)
		}
	}
	md := r.Markdown()
	// Each block, as the HTML shows it; the figures report.md shows too.
	for block, want := range map[string][]string{
		"abort": {`<title>countlab fixture: FAIL (ABORTED)</title>`, `<span class="verdict FAIL">FAIL</span><span class="verdict ABORTED">ABORTED</span>`,
			`<div class="aborted"><strong>Aborted at 21.5 s</strong>(abort[0]): engine_lag_records 90000 &gt; 50000 for 5 s.`,
			"<li>aborted at 21.5 s (abort[0]): engine_lag_records 90000 &gt; 50000 for 5 s</li>"},
		"steady state": {"<h2>Steady state before the first fault</h2>", "12:00:00 to 12:00:10", "FAILED: no fault was injected",
			`<tr class="fail"><td>engine_lag_records</td><td class="n">≤ 1000</td><td class="n">4321</td>`,
			`<tr class="pass"><td>ingest_ack_p99_ms</td><td class="n">≤ 50</td><td class="n">12</td>`},
		"fault phases": {"<h2>Fault phases</h2>", `<td rowspan="3">restart-1 (broker-restart)</td><td class="n" rowspan="3">2.5</td>`,
			`<tr class="fail"><td>during</td><td class="n">7777</td><td class="n">12.50%</td><td class="n">900</td><td class="n">310</td>`,
			`during:ingest_error_share &lt;= 0.05: 0.125 <span class="bad">FAIL</span>`, `after:achieved_events_per_s &gt;= 900: 990 <span class="ok">pass</span>`,
			`<td rowspan="1">stuck (worker-kill)</td><td class="n" rowspan="1">did not recover</td><td>during</td><td class="n">–</td>`},
		"gate": {"<h2>Regression gate (baseline old/report.json)</h2>", "1 run(s) against 1 baseline run(s): 1 regressed,",
			`<tr class="fail"><td>achieved_events_per_s</td>`, `<td class="v">REGRESSED</td>`,
			`<tr class="pass"><td>ingest_ack_p50</td>`, `<td class="v">ok</td>`,
			`<tr class="skip"><td>query_p999</td>`, "not gated: 300 samples behind p999, 10,000 needed",
			"not gated: a maximum is one sample", "Note: the baseline ran on another machine (8 x other CPU).",
			"<li>regression achieved_events_per_s: 640 vs baseline 1e&#43;03"},
		"accuracy": {"<td>InfluxDB (store, read directly)</td>", "1 events acknowledged, refused or coded against the contract",
			`acked-invalid key &#34;k9&#34; id &#34;id-42&#34; (want &#34;bad_ts&#34;, got &#34;&#34;)`,
			"The reconcile recounted 1234 events and rewrote 56 windows in 1.5 s"},
		"traffic":    {`<tr><td>throttled (429)</td><td class="n">4242</td></tr>`},
		"cpu":        {"<h2>CPU</h2>", "process influxd (pid 77)", "8765 events per core-second", "0.25 totals and 0.50 points", "Note: the broker runs in-process", "Note: profile: no samples"},
		"provenance": {"<h2>Provenance</h2>", "abc123", "2 x Test CPU", "countlab run x.yaml"},
		"shards":     {"merged from 3 generator shards"},
	} {
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: no %q in the HTML", block, w)
			}
		}
	}
	// The gate lists regressed, then passed, then not-gated metrics.
	if i, j, k := strings.Index(out, `<tr class="fail"><td>achieved_events_per_s`), strings.Index(out, `<tr class="pass"><td>ingest_ack_p50`),
		strings.Index(out, `<tr class="skip">`); !(i < j && j < k) {
		t.Errorf("gate rows out of order: regressed at %d, passed at %d, not gated at %d", i, j, k)
	}
	// Every not-gated reason report.md gives is in the HTML.
	for _, m := range r.Baseline.Metrics {
		if !m.Gated && !strings.Contains(out, m.NotGated) {
			t.Errorf("not-gated reason of %s missing: %q", m.Name, m.NotGated)
		}
		if !m.Gated && !strings.Contains(md, m.NotGated) {
			t.Errorf("report.md lacks the not-gated reason of %s", m.Name)
		}
	}

	// An empty block renders nothing.
	empty := failingFixture()
	empty.Baseline, empty.FaultPhases = nil, []FaultPhases{}
	out = render(empty)
	for _, absent := range []string{`class="verdict ABORTED"`, "(ABORTED)", `class="aborted"`, "aborted at", "Steady state", "Fault phases", "Regression gate", "<h2>CPU",
		"<h2>Provenance", "generator shards", "InfluxDB (store", "The reconcile"} {
		if strings.Contains(out, absent) {
			t.Errorf("empty blocks: %q in the HTML", absent)
		}
	}
	// A single generator (shards 1) is no merge.
	empty.Shards = 1
	if out = render(empty); strings.Contains(out, "generator shards") {
		t.Error("shards 1 shown as a merge")
	}
}
