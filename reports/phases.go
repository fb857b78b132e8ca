package reports

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Live probes: what a run measures every second while the traffic runs,
// for its abort conditions, its steady-state check before the first fault
// and its phase-scoped SLOs around each fault.

// The probes, by name (a scenario's abort, steady_state and phase_slo
// sections name them).
const (
	// ProbeEngineLag is the engine's consumer lag on the events topic,
	// records summed over the partitions.
	ProbeEngineLag = "engine_lag_records"
	// ProbeIngestErrorShare is the share of the second's event sends that
	// failed (a 5xx or transport error; 429 overload answers and
	// rejections of malformed events are not errors), in [0, 1].
	ProbeIngestErrorShare = "ingest_error_share"
	// ProbeIngestAckP99 is the p99 acknowledgement latency of the events
	// acknowledged in the second, ms.
	ProbeIngestAckP99 = "ingest_ack_p99_ms"
	// ProbeAchieved is the events acknowledged in the second.
	ProbeAchieved = "achieved_events_per_s"
)

// Probes are the probe names.
var Probes = []string{ProbeEngineLag, ProbeIngestErrorShare, ProbeIngestAckP99, ProbeAchieved}

// ProbeSample is one second of the live probes; a probe not measured in
// that second is absent from Values.
type ProbeSample struct {
	T      time.Time          `json:"t"`
	Values map[string]float64 `json:"values"`
}

// Aborted is why a run stopped early.
type Aborted struct {
	// Reason says which condition held, with the figures.
	Reason string `json:"reason"`
	// AtS is when, in seconds from the start of the traffic.
	AtS float64 `json:"at_s"`
	// Condition is "abort[i]" (the scenario's abort condition i),
	// "steady_state" or "lost_acked" (a later round's rolling check).
	Condition string `json:"condition"`
}

// Bound is a bound on one probe: the probe's value must stay at most Max
// (a "max" bound) or at least Min (a "min" bound).
type Bound struct {
	Probe string  `json:"probe"`
	Kind  string  `json:"kind"` // "max" or "min"
	Limit float64 `json:"limit"`
}

// Holds reports whether v is within b.
func (b Bound) Holds(v float64) bool {
	if b.Kind == "min" {
		return v >= b.Limit
	}
	return v <= b.Limit
}

func (b Bound) String() string {
	rel := "<="
	if b.Kind == "min" {
		rel = ">="
	}
	return fmt.Sprintf("%s %s %g", b.Probe, rel, b.Limit)
}

// Worst is the worst value of b's probe over samples (the largest for a
// max bound, the smallest for a min bound) and how many samples had it.
func (b Bound) Worst(samples []ProbeSample) (v float64, n int) {
	for _, s := range samples {
		x, ok := s.Values[b.Probe]
		if !ok {
			continue
		}
		if n == 0 || (b.Kind == "min" && x < v) || (b.Kind != "min" && x > v) {
			v = x
		}
		n++
	}
	return v, n
}

// Window are the samples in [from, to).
func Window(samples []ProbeSample, from, to time.Time) []ProbeSample {
	var out []ProbeSample
	for _, s := range samples {
		if !s.T.Before(from) && s.T.Before(to) {
			out = append(out, s)
		}
	}
	return out
}

// SteadyState is the steady-state hypothesis checked before the first
// fault: every bound held over the window (its worst second).
type SteadyState struct {
	Pass bool      `json:"pass"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Checks are each bound's worst second in the window.
	Checks []SLOResult `json:"checks"`
	// Note says why nothing was checked (no sample in the window).
	Note string `json:"note,omitempty"`
}

// CheckSteadyState checks bounds over the samples in [from, to).
func CheckSteadyState(samples []ProbeSample, from, to time.Time, bounds []Bound) *SteadyState {
	ss := &SteadyState{Pass: true, From: from.UTC(), To: to.UTC()}
	win := Window(samples, from, to)
	for _, b := range bounds {
		v, n := b.Worst(win)
		if n == 0 {
			ss.Note = "no probe sample in the window: not checked"
			continue
		}
		ok := b.Holds(v)
		ss.Pass = ss.Pass && ok
		ss.Checks = append(ss.Checks, SLOResult{Name: b.Probe, Threshold: b.Limit, Value: v, Pass: ok, Kind: b.Kind})
	}
	return ss
}

// Failed names the checks that failed.
func (ss *SteadyState) Failed() string {
	var out []string
	for _, c := range ss.Checks {
		if !c.Pass {
			out = append(out, fmt.Sprintf("%s %g (bound %g)", c.Name, c.Value, c.Threshold))
		}
	}
	return strings.Join(out, ", ")
}

// FaultPhases are one fault's probe figures before it (the window before
// its injection), during it (injection to heal) and after it (the window
// after the heal), beside its recovery time, with the phase-scoped SLOs.
type FaultPhases struct {
	Fault     string  `json:"fault"`
	Kind      string  `json:"kind"`
	RecoveryS float64 `json:"recovery_s"`
	Phases    []Phase `json:"phases"`
}

// Phase is one phase of a fault: each probe's worst second in it, and the
// phase's SLOs.
type Phase struct {
	Phase string    `json:"phase"` // before, during, after
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	// Worst is each probe's worst second (the largest; the smallest for
	// achieved_events_per_s).
	Worst map[string]float64 `json:"worst"`
	SLO   []SLOResult        `json:"slo,omitempty"`
}

// PhaseBound is a bound scoped to a phase.
type PhaseBound struct {
	Bound
	Phase string
}

// FaultWindow is one fault's injection and heal.
type FaultWindow struct {
	Name, Kind       string
	Injected, Healed time.Time
	RecoveryS        float64
}

// EvaluatePhases computes each injected fault's phases (window: the length
// of before and after) and their SLOs and sets r.FaultPhases; a failed
// phase SLO fails the report (call before EvaluateSLO's Pass is read:
// EvaluatePhases keeps r.Pass false once false).
func (r *Report) EvaluatePhases(samples []ProbeSample, faults []FaultWindow, window time.Duration, bounds []PhaseBound) {
	for _, f := range faults {
		if f.Injected.IsZero() {
			continue
		}
		healed := f.Healed
		if healed.IsZero() {
			healed = f.Injected
		}
		fp := FaultPhases{Fault: f.Name, Kind: f.Kind, RecoveryS: f.RecoveryS}
		for _, ph := range []struct {
			name     string
			from, to time.Time
		}{{"before", f.Injected.Add(-window), f.Injected}, {"during", f.Injected, healed}, {"after", healed, healed.Add(window)}} {
			win := Window(samples, ph.from, ph.to)
			p := Phase{Phase: ph.name, From: ph.from.UTC(), To: ph.to.UTC(), Worst: map[string]float64{}}
			for _, probe := range Probes {
				kind := "max"
				if probe == ProbeAchieved {
					kind = "min"
				}
				if v, n := (Bound{Probe: probe, Kind: kind}).Worst(win); n > 0 {
					p.Worst[probe] = v
				}
			}
			for _, b := range bounds {
				if b.Phase != ph.name {
					continue
				}
				v, n := b.Worst(win)
				res := SLOResult{Name: b.Phase + ":" + b.String(), Threshold: b.Limit, Value: v, Pass: n > 0 && b.Holds(v), Kind: b.Kind}
				p.SLO = append(p.SLO, res)
				if !res.Pass {
					r.SLO = append(r.SLO, SLOResult{Name: f.Name + " " + b.Phase + " " + b.Probe, Threshold: b.Limit, Value: v, Pass: false, Kind: b.Kind})
				}
			}
			fp.Phases = append(fp.Phases, p)
		}
		r.FaultPhases = append(r.FaultPhases, fp)
	}
}

// WritePhases writes the steady state, the abort and each fault's phases
// to w (the run's summary).
func (r *Report) WritePhases(w io.Writer) {
	if a := r.Aborted; a != nil {
		fmt.Fprintf(w, "  ABORTED at %.1fs (%s): %s\n", a.AtS, a.Condition, a.Reason)
	}
	if ss := r.SteadyState; ss != nil {
		verdict := "held"
		if !ss.Pass {
			verdict = "FAILED: " + ss.Failed()
		}
		fmt.Fprintf(w, "  steady state before the first fault (%s..%s): %s", ss.From.Format(time.TimeOnly), ss.To.Format(time.TimeOnly), verdict)
		if ss.Note != "" {
			fmt.Fprintf(w, " (%s)", ss.Note)
		}
		fmt.Fprintln(w)
	}
	for _, fp := range r.FaultPhases {
		fmt.Fprintf(w, "  fault %s (%s), recovered %.1fs after the heal:", fp.Fault, fp.Kind, fp.RecoveryS)
		for _, p := range fp.Phases {
			fmt.Fprintf(w, " %s lag %.0f, errors %.1f%%, ack p99 %.0f ms, achieved %.0f/s;", p.Phase, p.Worst[ProbeEngineLag],
				100*p.Worst[ProbeIngestErrorShare], p.Worst[ProbeIngestAckP99], p.Worst[ProbeAchieved])
		}
		fmt.Fprintln(w)
	}
}
