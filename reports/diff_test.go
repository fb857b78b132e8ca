package reports

import (
	"strings"
	"testing"
)

// TestDiffFailures: a new run that lost events and failed an SLO it passed
// before fails the diff, saying why, in the table, the JSON and JUnit.
func TestDiffFailures(t *testing.T) {
	old := &Report{Scenario: "s", Accuracy: Accuracy{Exact: true, WindowsChecked: 3}, SLO: []SLOResult{{Name: "max_p99_query_ms", Kind: "max", Value: 5, Threshold: 10, Pass: true}}}
	cur := &Report{Scenario: "s", Accuracy: Accuracy{Lost: 2, MismatchedWindows: 1, WindowsChecked: 3}, SLO: []SLOResult{{Name: "max_p99_query_ms", Kind: "max", Value: 20, Threshold: 10}}}
	d := NewDiff(old, cur, &Comparison{Runs: 1, BaselineRuns: 1})
	f := d.Failures()
	if len(f) != 2 || !strings.Contains(f[0], "SLO max_p99_query_ms failed: 20 (threshold 10)") || !strings.Contains(f[1], "accuracy not exact: 1 of 3 windows differ, lost 2") {
		t.Fatalf("failures %q", f)
	}
	var b strings.Builder
	d.WriteText(&b, "old.json", "new.json")
	if out := b.String(); !strings.Contains(out, "FAIL (was pass)") || !strings.Contains(out, "verdict: FAIL") {
		t.Errorf("table:\n%s", out)
	}
	if j := d.JSON("old.json", "new.json"); j.Pass || j.Exact != (DiffExact{true, false}) || len(j.SLO) != 1 || !j.SLO[0].Regression {
		t.Errorf("JSON %+v", j)
	}
	if s := d.JUnit("s").Suites[0]; s.Tests != 2 || s.Failures != 2 {
		t.Errorf("JUnit %+v", s)
	}
}
