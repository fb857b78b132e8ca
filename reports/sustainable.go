package reports

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Sustainable is the highest rate a run sustained with bounded lag and
// fresh answers (the ceiling the stress scenario looks for), and what
// stopped it from going higher.
//
// A window of WindowS consecutive seconds of the traffic is sustainable
// when, over it, the answered rate (acknowledged, plus refused by the
// contract: a hostile scenario's malformed events are answered, not
// dropped) kept up with the offered one (at least 95%), the entry point
// pushed back (429/503, sent again) less than 1% of the offered events,
// the engine's consumer lag at its end was at most LagS seconds of its
// input (or under 1,000 records), and the freshness p99 of the tracers
// sent in it was within MaxFreshnessMS (a window without a tracer is
// judged without freshness). A window's rate is its mean acknowledged
// rate, but never more than its mean offered rate: past a push-back or a
// stall the sender sends its backlog, and a window that drains one
// acknowledges more than it was offered, which is no rate the pipeline
// kept up with. EventsPerS is the highest rate of a sustainable window.
type Sustainable struct {
	EventsPerS float64 `json:"events_per_s"`
	// OfferedEventsPerS is the mean offered rate of that window, AtS its
	// end (seconds from the start of the traffic).
	OfferedEventsPerS float64 `json:"offered_events_per_s"`
	AtS               float64 `json:"at_s"`
	WindowS           int     `json:"window_s"`
	// FreshnessP99MS and LagS are the window's (NaN-free: -1 when not
	// measured).
	FreshnessP99MS float64 `json:"freshness_p99_ms"`
	LagS           float64 `json:"lag_s"`
	// MaxFreshnessMS and MaxLagS are the bounds applied.
	MaxFreshnessMS float64 `json:"max_freshness_ms"`
	MaxLagS        float64 `json:"max_lag_s"`
	// LimitedBy is the bound the first window after the best one with a
	// higher offered rate broke: "freshness", "lag", "throughput" (the
	// answered rate fell behind the offered) or "throttled" (the entry
	// point pushed back); "" when none did (the offered load never went
	// past what was sustained).
	LimitedBy string `json:"limited_by,omitempty"`
	// BrokeAtS is the end of that window (the first after the best one,
	// with a higher offered rate, that was not sustainable; or the first
	// not sustainable when none was), BrokeOfferedEventsPerS its mean
	// offered rate; -1 and 0 when no window broke.
	BrokeAtS               float64 `json:"broke_at_s"`
	BrokeOfferedEventsPerS float64 `json:"broke_offered_events_per_s"`
	// LimitingStage is the stage that limits the rate, LimitingSignal
	// what names it (a saturation signal, or "cpu") and LimitingEvidence
	// why, in words; CPUAtBreak is the CPU by stage over the window that
	// broke (ceiling.go, Attribute). Empty when no window broke.
	LimitingStage    string   `json:"limiting_stage,omitempty"`
	LimitingSignal   string   `json:"limiting_signal,omitempty"`
	LimitingEvidence string   `json:"limiting_evidence,omitempty"`
	CPUAtBreak       *CPUStep `json:"cpu_at_break,omitempty"`

	// start is the time the seconds count from (Attribute).
	start time.Time
}

// Defaults of SustainableRate.
const (
	sustainWindow   = 5
	sustainLagS     = 2.0
	sustainMinLag   = 1000
	sustainAchieved = 0.95
)

// SustainableRate finds the sustainable rate in ts (nil when ts has no
// offered and acknowledged rates); maxFreshnessMS <= 0 takes 1000.
func SustainableRate(ts *TimeSeries, maxFreshnessMS float64) *Sustainable {
	if ts == nil || len(ts.Offered) == 0 || len(ts.Achieved) == 0 {
		return nil
	}
	if maxFreshnessMS <= 0 {
		maxFreshnessMS = 1000
	}
	n := min(len(ts.Offered), len(ts.Achieved))
	if n < sustainWindow {
		return nil
	}
	start := ts.Offered[0].T.Add(-time.Second) // each point ends its second
	var tracers []Point
	for _, l := range ts.Latency {
		if l.Kind == "freshness" {
			for _, s := range l.Percentiles {
				tracers = append(tracers, s.Points...)
			}
		}
	}
	slices.SortFunc(tracers, func(a, b Point) int { return a.T.Compare(b.T) })
	out := &Sustainable{WindowS: sustainWindow, MaxFreshnessMS: maxFreshnessMS, MaxLagS: sustainLagS, AtS: -1, FreshnessP99MS: -1, LagS: -1, BrokeAtS: -1, start: start}
	best := -1
	type verdict struct {
		offered, achieved, answered, throttled, fresh, lagS float64
		broke                                               string
	}
	judge := func(i int) verdict { // the window of seconds i-w+1..i
		var v verdict
		for j := i - sustainWindow + 1; j <= i; j++ {
			v.offered += ts.Offered[j].V / sustainWindow
			v.achieved += ts.Achieved[j].V / sustainWindow
			if j < len(ts.Refused) {
				v.answered += ts.Refused[j].V / sustainWindow
			}
			if j < len(ts.Throttled) {
				v.throttled += ts.Throttled[j].V / sustainWindow
			}
		}
		v.answered += v.achieved
		from, to := ts.Offered[i-sustainWindow+1].T.Add(-time.Second), ts.Offered[i].T
		v.fresh = p99Between(tracers, from, to)
		lag := lagAt(ts.Lag, to)
		v.lagS = -1
		if lag >= 0 && v.achieved > 0 {
			v.lagS = lag / v.achieved
		}
		switch {
		case v.answered < sustainAchieved*v.offered:
			v.broke = "throughput"
		case v.throttled > 0 && v.throttled >= DefaultSaturationRules.ThrottledShare*v.offered: // the gateway's saturation bound
			v.broke = "throttled"
		case lag >= sustainMinLag && v.lagS > sustainLagS:
			v.broke = "lag"
		case v.fresh > maxFreshnessMS:
			v.broke = "freshness"
		}
		return v
	}
	verdicts := make([]verdict, n)
	for i := sustainWindow - 1; i < n; i++ {
		verdicts[i] = judge(i)
		if v := verdicts[i]; v.broke == "" && (best < 0 || min(v.achieved, v.offered) > out.EventsPerS) {
			best = i
			out.EventsPerS, out.OfferedEventsPerS = min(v.achieved, v.offered), v.offered
			out.AtS = ts.Offered[i].T.Sub(start).Seconds()
			out.FreshnessP99MS, out.LagS = v.fresh, v.lagS
		}
	}
	for i := max(best+1, sustainWindow-1); i < n; i++ {
		if v := verdicts[i]; v.broke != "" && v.offered > out.OfferedEventsPerS {
			out.LimitedBy = v.broke
			out.BrokeAtS, out.BrokeOfferedEventsPerS = ts.Offered[i].T.Sub(start).Seconds(), v.offered
			break
		}
	}
	return out
}

// p99Between is the p99 of the values of the points in (from, to], or -1.
func p99Between(pts []Point, from, to time.Time) float64 {
	lo, _ := slices.BinarySearchFunc(pts, from, func(p Point, t time.Time) int {
		if p.T.After(t) {
			return 1
		}
		return -1
	})
	var vs []float64
	for _, p := range pts[lo:] {
		if p.T.After(to) {
			break
		}
		vs = append(vs, p.V)
	}
	if len(vs) == 0 {
		return -1
	}
	slices.Sort(vs)
	return vs[int(math.Ceil(0.99*float64(len(vs))))-1]
}

// lagAt is the summed lag of the partitions' series at their last points
// at or before t, or -1 without any.
func lagAt(lags []Series, t time.Time) float64 {
	sum, any := 0.0, false
	for _, s := range lags {
		for k := len(s.Points) - 1; k >= 0; k-- {
			if !s.Points[k].T.After(t) {
				sum += s.Points[k].V
				any = true
				break
			}
		}
	}
	if !any {
		return -1
	}
	return sum
}

// Text is a one-line summary.
func (s *Sustainable) Text() string {
	if s == nil {
		return ""
	}
	if s.AtS < 0 {
		txt := fmt.Sprintf("no %d s window was sustainable (answered >= 95%% of offered, lag <= %.0f s, freshness p99 <= %.0f ms)",
			s.WindowS, s.MaxLagS, s.MaxFreshnessMS)
		if s.LimitingStage != "" {
			txt += "; limited by " + s.LimitingStage + " (" + s.LimitingSignal + ")"
		}
		return txt
	}
	lim := "the offered load never went past it"
	if s.LimitedBy != "" {
		lim = fmt.Sprintf("beyond it (offered %.0f, at %.0f s) %s broke first", s.BrokeOfferedEventsPerS, s.BrokeAtS, s.LimitedBy)
		if s.LimitingStage != "" {
			lim += "; limited by " + s.LimitingStage + " (" + s.LimitingSignal + ")"
		}
	}
	return fmt.Sprintf("sustainable %.0f events/s (%d s ending at %.0f s: offered %.0f, freshness p99 %s ms, lag %s s); %s",
		s.EventsPerS, s.WindowS, s.AtS, s.OfferedEventsPerS, orDash(s.FreshnessP99MS, "%.0f"), orDash(s.LagS, "%.2f"), lim)
}

func orDash(v float64, f string) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf(f, v)
}
