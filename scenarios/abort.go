package scenarios

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countlab/countlab/internal/strictyaml"
)

// Abort conditions, the steady-state hypothesis and phase-scoped SLOs:
// bounds on the live probes a run measures every second while its
// traffic runs (reports.Probes).

// ProbeNames are the live probes a bound can name (the same names as
// reports.Probes): engine_lag_records (the engine's consumer lag on the
// events topic, records over every partition), ingest_error_share (the
// share of the second's event sends that failed with a 5xx or a transport
// error, in [0, 1]), ingest_ack_p99_ms (the p99 acknowledgement latency of
// the second) and achieved_events_per_s (events acknowledged in the
// second).
var ProbeNames = []string{"engine_lag_records", "ingest_error_share", "ingest_ack_p99_ms", "achieved_events_per_s"}

// DefaultAbortAfter is an abort condition's default delay.
const DefaultAbortAfter = 10 * time.Second

// DefaultSteadyWindow is the default steady-state window.
const DefaultSteadyWindow = 5 * time.Second

// Bound is a bound on one probe: the probe must stay at most Max, or at
// least Min (exactly one of the two).
type Bound struct {
	// Probe names the measurement (see ProbeNames).
	Probe string `yaml:"probe"`
	// Max is the most the probe may be.
	Max *float64 `yaml:"max,omitempty"`
	// Min is the least the probe may be.
	Min *float64 `yaml:"min,omitempty"`
}

// Limit is the bound's kind ("max" or "min") and value.
func (b Bound) Limit() (kind string, v float64) {
	if b.Min != nil {
		return "min", *b.Min
	}
	if b.Max != nil {
		return "max", *b.Max
	}
	return "max", 0
}

// AbortCondition stops the run early (k6's abortOnFail, Gatling's
// stopInjectorIf) when its bound is broken in every second of After: the
// traffic stops, the faults are healed, the report is written with
// aborted: {reason, at_s} and the run exits 1.
type AbortCondition struct {
	Bound `yaml:",inline"`
	// After is how long the bound must stay broken, second after second,
	// before the run aborts (default 10s; at least 1s): a fault's
	// expected dip is not an abort, a lag that keeps growing is.
	After time.Duration `yaml:"after"`
}

// SteadyState is the hypothesis checked before the first fault (Chaos
// Toolkit's steady-state hypothesis): over the Window before the first
// fault's start, every check held in every second; otherwise no fault is
// injected and the run fails with the reason. A scenario with faults and
// no steady_state section checks ingest_error_share <= 0.05 (see
// SteadyStateChecks).
type SteadyState struct {
	// Window is how long before the first fault the checks must hold
	// (default 5s); it is also the length of the before and after phases
	// of phase_slo.
	Window time.Duration `yaml:"window"`
	// Checks are the bounds that must hold (at least one).
	Checks []Bound `yaml:"checks"`
}

// PhaseSLO is an SLO scoped to a phase of each fault: its bound must hold
// in every second of the phase; the report shows each phase's figures
// beside the fault's recovery time.
type PhaseSLO struct {
	Bound `yaml:",inline"`
	// Phase is before (the steady-state window before the injection),
	// during (injection to heal) or after (the window after the heal).
	Phase string `yaml:"phase"`
}

// PhaseNames are the phases of a fault.
var PhaseNames = []string{"before", "during", "after"}

func (s *Scenario) applyAbortDefaults() {
	for i := range s.Abort {
		if s.Abort[i].After == 0 {
			s.Abort[i].After = DefaultAbortAfter
		}
	}
	if s.SteadyState != nil && s.SteadyState.Window == 0 {
		s.SteadyState.Window = DefaultSteadyWindow
	}
}

// SteadyStateChecks are the steady-state window and checks of a run with
// faults: the steady_state section's, or by default ingest_error_share
// max 0.05 over the 5s before the first fault (shorter when the first
// fault starts within 6s; none before 2s). ok is false without faults.
func (s *Scenario) SteadyStateChecks() (window time.Duration, checks []Bound, ok bool) {
	first, any := s.FirstFault()
	if !any {
		return 0, nil, false
	}
	if ss := s.SteadyState; ss != nil {
		return ss.Window, ss.Checks, true
	}
	window = min(DefaultSteadyWindow, first-time.Second)
	if window < time.Second {
		return 0, nil, false
	}
	share := 0.05
	return window, []Bound{{Probe: "ingest_error_share", Max: &share}}, true
}

// validateAbort checks the abort, steady_state and phase_slo sections.
func (s *Scenario) validateAbort(bad func(path, hint, format string, a ...any)) {
	for i, a := range s.Abort {
		p := "abort[" + strconv.Itoa(i) + "]"
		validateBound(p, a.Bound, bad)
		if a.After < time.Second || a.After > s.Duration {
			bad(p+".after", "10s", "must be between 1s and the duration %s (got %s)", s.Duration, a.After)
		}
	}
	if ss := s.SteadyState; ss != nil {
		if ss.Window < time.Second || ss.Window > time.Minute {
			bad("steady_state.window", "5s", "must be between 1s and 1m (got %s)", ss.Window)
		}
		if len(ss.Checks) == 0 {
			bad("steady_state.checks", "- {probe: ingest_error_share, max: 0.01}", "at least one check is needed")
		}
		for i, b := range ss.Checks {
			validateBound("steady_state.checks["+strconv.Itoa(i)+"]", b, bad)
		}
		if first, ok := s.FirstFault(); ok && first < ss.Window+time.Second {
			bad("steady_state.window", (first-time.Second).String()+" or less, or start the first fault later",
				"the first fault starts at %s: the window plus a second (%s) must fit before it", first, ss.Window+time.Second)
		}
	}
	for i, ps := range s.PhaseSLO {
		p := "phase_slo[" + strconv.Itoa(i) + "]"
		validateBound(p, ps.Bound, bad)
		if !slices.Contains(PhaseNames, ps.Phase) {
			bad(p+".phase", strings.Join(PhaseNames, ", "), "unknown phase %q", ps.Phase)
		}
	}
	if len(s.PhaseSLO) > 0 && len(s.Faults) == 0 && s.RandomFaults == nil {
		bad("phase_slo", "faults: [...] or no phase_slo", "phase-scoped SLOs need faults")
	}
}

func validateBound(p string, b Bound, bad func(path, hint, format string, a ...any)) {
	if !slices.Contains(ProbeNames, b.Probe) {
		hint := strings.Join(ProbeNames, ", ")
		if c := strictyaml.Closest(b.Probe, ProbeNames); c != "" {
			hint = strconv.Quote(c)
		}
		bad(p+".probe", hint, "unknown probe %q", b.Probe)
	}
	if (b.Max == nil) == (b.Min == nil) {
		bad(p, "max: 1000 or min: 500", "give exactly one of max and min")
		return
	}
	_, v := b.Limit()
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		bad(p, "a finite bound >= 0", "bound must be >= 0 (got %v)", v)
	}
	if b.Probe == "ingest_error_share" && v > 1 {
		bad(p, "0.05", "a share is in [0, 1] (got %v)", v)
	}
}

// FirstFault is the earliest start of the scenario's faults (false: none).
func (s *Scenario) FirstFault() (time.Duration, bool) {
	if len(s.Faults) == 0 {
		return 0, false
	}
	first := s.Faults[0].Start
	for _, f := range s.Faults[1:] {
		first = min(first, f.Start)
	}
	return first, true
}

// String writes the bound as "engine_lag_records <= 1000".
func (b Bound) String() string {
	kind, v := b.Limit()
	rel := "<="
	if kind == "min" {
		rel = ">="
	}
	return fmt.Sprintf("%s %s %g", b.Probe, rel, v)
}
