package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/reports"
)

// diffFixture writes a passing report with the given achieved throughput
// and baseline tolerances (config) and returns its report.json.
func diffFixture(t *testing.T, name string, achieved float64, tol map[string]any) string {
	t.Helper()
	r := &reports.Report{
		Scenario: "fixture", StartedAt: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), DurationS: 30,
		Config:     map[string]any{"name": "fixture", "baseline": map[string]any{"default": 0.25, "tolerances": tol}},
		Throughput: reports.Throughput{OfferedEventsPerS: 1000, AchievedEventsPerS: achieved},
		Latency: reports.Latencies{
			IngestAck: reports.Percentiles{P50: 3, P90: 8, P99: 40, P999: 90, Max: 120, Count: 19000},
			Query:     reports.Percentiles{P50: 2, P90: 5, P99: 9, P999: 11, Max: 12, Count: 300},
		},
		Accuracy: reports.Accuracy{ExpectedEvents: 19000, CountedEvents: 19000, WindowsChecked: 900, Exact: true},
		Faults:   []reports.FaultRecord{},
	}
	r.EvaluateSLO(reports.Thresholds{MinThroughputEventsPerS: 500, MaxP99IngestAckMS: 100, AccuracyExact: true})
	dir := filepath.Join(t.TempDir(), name)
	if err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "report.json")
}

func TestReportDiff(t *testing.T) {
	old := diffFixture(t, "old", 1000, nil)
	f := func(name string, cur string, wantFail bool, wantJUnitFailures []string, want ...string) {
		t.Helper()
		junit := filepath.Join(t.TempDir(), "junit.xml")
		var out bytes.Buffer
		err := cmdReportDiff(&out, []string{old, cur, "--junit", junit})
		var ee exitError
		if wantFail != (err != nil) || (err != nil && (!errors.As(err, &ee) || ee.code != 1)) {
			t.Fatalf("%s: err %v, want failure %v\n%s", name, err, wantFail, out.String())
		}
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: no %q in\n%s", name, w, out.String())
			}
		}
		b, err := os.ReadFile(junit)
		if err != nil {
			t.Fatal(err)
		}
		var js reports.JUnitSuites
		if err := xml.Unmarshal(b, &js); err != nil {
			t.Fatalf("%s: JUnit: %v\n%s", name, err, b)
		}
		if len(js.Suites) != 1 {
			t.Fatalf("%s: %d suites", name, len(js.Suites))
		}
		s := js.Suites[0]
		var failed []string
		names := map[string]bool{}
		for _, c := range s.Cases {
			names[c.ClassName+"/"+c.Name] = true
			if c.Failure != nil {
				failed = append(failed, c.ClassName+"/"+c.Name)
			}
		}
		if s.Tests != len(s.Cases) || s.Failures != len(failed) || strings.Join(failed, ",") != strings.Join(wantJUnitFailures, ",") {
			t.Errorf("%s: JUnit tests=%d failures=%d failed %v, want %v", name, s.Tests, s.Failures, failed, wantJUnitFailures)
		}
		for _, n := range []string{"countlab.slo/min_throughput_events_per_s", "countlab.slo/max_p99_ingest_ack_ms", "countlab.slo/accuracy_exact",
			"countlab.accuracy/exact", "countlab.regression/achieved_events_per_s", "countlab.regression/ingest_ack_p99"} {
			if !names[n] {
				t.Errorf("%s: no JUnit test case %s", name, n)
			}
		}
	}
	f("same", diffFixture(t, "same", 990, nil), false, nil, "verdict: PASS")
	f("regressed", diffFixture(t, "slow", 700, nil), true, []string{"countlab.regression/achieved_events_per_s"},
		"REGRESSED", "verdict: FAIL", "regressed achieved_events_per_s: 700 vs baseline 1e+03 (-30%; minimum effect 50 and 25%")
	f("tolerated", diffFixture(t, "tolerated", 700, map[string]any{"achieved_events_per_s": 0.5}), false, nil, "verdict: PASS")
	f("slo failed", diffFixture(t, "slo", 400, map[string]any{"achieved_events_per_s": 0.7}), true,
		[]string{"countlab.slo/min_throughput_events_per_s"}, "FAIL (was pass)")

	// The regressed line itself is marked (-v shows the table).
	var out bytes.Buffer
	_ = cmdReportDiff(&out, []string{old, diffFixture(t, "slow2", 700, nil)})
	t.Log("\n" + out.String())
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "achieved_events_per_s") && strings.Contains(line, "1000") && !strings.Contains(line, "REGRESSED") {
			t.Errorf("achieved_events_per_s line not marked: %q", line)
		}
		if strings.HasPrefix(strings.TrimSpace(line), "ingest_ack_p99") && strings.Contains(line, "REGRESSED") {
			t.Errorf("unchanged ingest_ack_p99 marked: %q", line)
		}
	}
}

func TestReportUsage(t *testing.T) {
	f := func(args ...string) {
		t.Helper()
		var ue usageError
		if err := cmdReport(t.Context(), args); !errors.As(err, &ue) {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
	}
	f()
	f("nope")
	f("diff", "only-one.json")
	f("diff", "missing-a.json", "missing-b.json")
	f("html")
}

func TestReportHTML(t *testing.T) {
	path := diffFixture(t, "html", 1000, nil)
	var out bytes.Buffer
	if err := cmdReportHTML(&out, []string{path}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(path), "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`class="verdict PASS"`)) {
		t.Fatalf("report.html has no verdict:\n%.500s", b)
	}
}
