package scenarios

import (
	"strings"
	"testing"
	"time"
)

func TestAbortSchema(t *testing.T) {
	sc, err := Parse("t.yaml", []byte(base+`abort:
  - {probe: engine_lag_records, max: 100000}
faults:
  - {name: skew, kind: clock-skew, start: 7s, duration: 2s}
phase_slo:
  - {probe: ingest_ack_p99_ms, max: 2000, phase: during}
`))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Abort[0].After != DefaultAbortAfter {
		t.Fatalf("after %s", sc.Abort[0].After)
	}
	if w, checks, ok := sc.SteadyStateChecks(); !ok || w != DefaultSteadyWindow || len(checks) != 1 || checks[0].Probe != "ingest_error_share" {
		t.Fatalf("default steady state %s %+v %v", w, checks, ok)
	}
	if kind, v := sc.PhaseSLO[0].Limit(); kind != "max" || v != 2000 || sc.PhaseSLO[0].String() != "ingest_ack_p99_ms <= 2000" {
		t.Fatalf("phase slo %s %v", kind, v)
	}
	// A first fault at 3s: the default window shrinks to 2s.
	sc, err = Parse("t.yaml", []byte(base+"faults:\n  - {name: skew, kind: clock-skew, start: 3s, duration: 2s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w, _, ok := sc.SteadyStateChecks(); !ok || w != 2*time.Second {
		t.Fatalf("window %s %v", w, ok)
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown probe":   {"abort:\n  - {probe: engine_lag_record, max: 1}\n", `abort[0].probe: unknown probe "engine_lag_record"; try "engine_lag_records"`},
		"both bounds":     {"abort:\n  - {probe: engine_lag_records, max: 1, min: 0}\n", "abort[0]: give exactly one of max and min"},
		"no bound":        {"abort:\n  - {probe: engine_lag_records}\n", "abort[0]: give exactly one of max and min"},
		"after short":     {"abort:\n  - {probe: engine_lag_records, max: 1, after: 100ms}\n", "abort[0].after: must be between 1s"},
		"share > 1":       {"abort:\n  - {probe: ingest_error_share, max: 2}\n", "a share is in [0, 1]"},
		"unknown field":   {"abort:\n  - {probe: engine_lag_records, max: 1, phase: during}\n", "phase"},
		"phase":           {"faults:\n  - {name: s, kind: clock-skew, start: 7s, duration: 2s}\nphase_slo:\n  - {probe: engine_lag_records, max: 1, phase: while}\n", `phase_slo[0].phase: unknown phase "while"`},
		"phase no faults": {"phase_slo:\n  - {probe: engine_lag_records, max: 1, phase: during}\n", "phase-scoped SLOs need faults"},
		"window":          {"faults:\n  - {name: s, kind: clock-skew, start: 4s, duration: 2s}\nsteady_state:\n  window: 5s\n  checks: [{probe: engine_lag_records, max: 10}]\n", "steady_state.window: the first fault starts at 4s"},
		"no checks":       {"steady_state: {window: 2s}\n", "steady_state.checks: at least one check is needed"},
		"alpha":           {"baseline: {alpha: 0.7}\n", "baseline.alpha: must be in [0, 0.5)"},
		"min_abs":         {"baseline: {min_abs: {query_p5: 1}}\n", `baseline.min_abs.query_p5: unknown metric`},
	} {
		_, err := Parse("t.yaml", []byte(base+tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
