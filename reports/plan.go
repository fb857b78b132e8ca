package reports

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"gonum.org/v1/gonum/stat"
)

// PlanReport is the result of `countlab plan`: every trial of every grid
// cell, the maximum sustainable rate of each cell, the scalability model
// fitted per partition count, and the recommendation for the target.
// Written as plan.json, plan.md and plan.html.
type PlanReport struct {
	Plan        string       `json:"plan"`
	Description string       `json:"description,omitempty"`
	StartedAt   time.Time    `json:"started_at"`
	DurationS   float64      `json:"duration_s"`
	Host        PlanHost     `json:"host"`
	Config      Config       `json:"config"`
	Criteria    PlanCriteria `json:"criteria"`
	Target      PlanTarget   `json:"target"`
	Cells       []PlanCell   `json:"cells"`
	// Fits are the USL fits of max sustainable throughput against
	// workers, one per partition count.
	Fits           []PlanFit      `json:"fits"`
	Recommendation Recommendation `json:"recommendation"`
	// Exact is whether every cell's events were counted exactly (when
	// the plan asks for the check).
	Exact bool `json:"exact"`
}

// PlanHost is the machine the plan ran on.
type PlanHost struct {
	CPUs int `json:"cpus"`
	// LoadAvg is /proc/loadavg's 1-minute load at the start and the end.
	LoadAvgStart float64 `json:"load_avg_start"`
	LoadAvgEnd   float64 `json:"load_avg_end"`
}

// PlanCriteria define a sustainable trial.
type PlanCriteria struct {
	MinAchievedRatio  float64 `json:"min_achieved_ratio"`
	MaxLagGrowth      float64 `json:"max_lag_growth"`
	MaxP99IngestAckMS float64 `json:"max_p99_ingest_ack_ms,omitempty"`
	MaxP99FreshnessMS float64 `json:"max_p99_freshness_ms,omitempty"`
}

// PlanTarget is the production load planned for.
type PlanTarget struct {
	EventsPerDay   float64 `json:"events_per_day"`
	PeakFactor     float64 `json:"peak_factor"`
	Keys           float64 `json:"keys"`
	ZipfS          float64 `json:"zipf_s"`
	NodeEventsPerS float64 `json:"node_events_per_s,omitempty"`
	CoresPerNode   int     `json:"cores_per_node,omitempty"`
	CoresPerWorker float64 `json:"cores_per_worker"`
	Headroom       float64 `json:"headroom"`
}

// PlanCell is one grid cell: its search and result.
type PlanCell struct {
	Partitions int `json:"partitions"`
	Workers    int `json:"workers"`
	// MaxSustainableEventsPerS is the highest rate found sustainable (0:
	// none was).
	MaxSustainableEventsPerS float64 `json:"max_sustainable_events_per_s"`
	// FirstUnsustainableEventsPerS is the lowest rate found not
	// sustainable (0: every trial was, see Capped).
	FirstUnsustainableEventsPerS float64 `json:"first_unsustainable_events_per_s"`
	// Capped: the search's max rate was sustainable; the cell's maximum
	// is at least that.
	Capped      bool        `json:"capped"`
	StackStartS float64     `json:"stack_start_s"`
	DurationS   float64     `json:"duration_s"`
	Accuracy    *Accuracy   `json:"accuracy,omitempty"`
	Error       string      `json:"error,omitempty"`
	Trials      []PlanTrial `json:"trials"`
	EventsAcked int64       `json:"events_acked"`
	// CPUFit is the engine's cores against the achieved rate over the
	// trials (cpuplan.go).
	CPUFit *CPUFit `json:"cpu_fit,omitempty"`
}

// PlanTrial is one trial: a constant offered rate for a while, and what
// was measured.
type PlanTrial struct {
	Phase             string    `json:"phase"` // ramp or search
	StartedAt         time.Time `json:"started_at"`
	OfferedEventsPerS float64   `json:"offered_events_per_s"`
	DurationS         float64   `json:"duration_s"`
	Generated         int64     `json:"generated"`
	Acked             int64     `json:"acked"`
	Failed            int64     `json:"failed"`
	Rejected          int64     `json:"rejected"`
	// AchievedEventsPerS is acknowledged events over the trial's time;
	// AchievedRatio is the answered ones (acknowledged, plus refused by the
	// contract: malformed events are answered, not dropped) over the
	// offered.
	AchievedEventsPerS float64 `json:"achieved_events_per_s"`
	AchievedRatio      float64 `json:"achieved_ratio"`
	// SenderMaxLagMS is how far the load generator fell behind its
	// schedule at worst.
	SenderMaxLagMS float64     `json:"sender_max_lag_ms"`
	IngestAck      Percentiles `json:"ingest_ack_ms"`
	Freshness      Percentiles `json:"freshness_ms"`
	TracersMissed  int64       `json:"tracers_missed"`
	// Lag is the engine's total consumer lag (records) sampled over the
	// trial; LagSlopePerS its least-squares slope over the second half.
	Lag          []Point `json:"consumer_lag"`
	LagSlopePerS float64 `json:"lag_slope_per_s"`
	LagMax       float64 `json:"lag_max"`
	// Achieved is acknowledged events a second, sampled.
	Achieved []Point `json:"achieved_series,omitempty"`
	// DrainS is how long the lag took to drain after the trial; Drained
	// false: it had not within the drain timeout.
	DrainS  float64 `json:"drain_s"`
	Drained bool    `json:"drained"`
	// Sustainable is the verdict; Why lists each criterion missed.
	Sustainable bool     `json:"sustainable"`
	Why         []string `json:"why,omitempty"`
	Error       string   `json:"error,omitempty"`
	// CPU is the trial's CPU per event and cores (cpuplan.go).
	CPU *TrialCPU `json:"cpu,omitempty"`
}

// LagTotal is the lag summed over partitions at each sample time.
func LagTotal(lag []Series) []Point {
	if len(lag) == 0 {
		return nil
	}
	return lagSummary(lag)[0].Points
}

// Judge sets LagSlopePerS, LagMax, AchievedRatio, Sustainable and Why
// from the measurements and c: sustainable when the achieved rate keeps up
// with the offered one, the consumer lag does not grow over the second
// half of the trial (its slope is at most MaxLagGrowth of the rate a
// second, or it never exceeded a quarter second of events), the p99
// latencies hold, every tracer was seen and no event failed.
func (t *PlanTrial) Judge(c PlanCriteria) {
	t.Why = nil
	if t.OfferedEventsPerS > 0 {
		t.AchievedRatio = t.AchievedEventsPerS / t.OfferedEventsPerS
		if t.Acked > 0 {
			t.AchievedRatio *= float64(t.Acked+t.Rejected) / float64(t.Acked)
		}
	}
	t.LagSlopePerS, t.LagMax = lagSlope(t.Lag)
	why := func(format string, a ...any) { t.Why = append(t.Why, fmt.Sprintf(format, a...)) }
	if t.Error != "" {
		why("error: %s", t.Error)
	}
	if t.AchievedRatio < c.MinAchievedRatio {
		why("answered %.0f of %.0f events/s (acknowledged %.0f; %.1f%% < %.0f%%)", t.AchievedRatio*t.OfferedEventsPerS, t.OfferedEventsPerS, t.AchievedEventsPerS, 100*t.AchievedRatio, 100*c.MinAchievedRatio)
	}
	// A lag under a quarter second of events is the engine's commit
	// interval and batching, not growth.
	if lim := c.MaxLagGrowth * t.OfferedEventsPerS; t.LagSlopePerS > lim && t.LagMax > t.OfferedEventsPerS/4 {
		why("consumer lag grew %.0f records/s over the second half (> %.0f)", t.LagSlopePerS, lim)
	}
	if c.MaxP99IngestAckMS > 0 && t.IngestAck.P99 > c.MaxP99IngestAckMS {
		why("p99 ingest ack %s ms > %s", num(t.IngestAck.P99), num(c.MaxP99IngestAckMS))
	}
	if c.MaxP99FreshnessMS > 0 {
		if t.Freshness.P99 > c.MaxP99FreshnessMS {
			why("p99 freshness %s ms > %s", num(t.Freshness.P99), num(c.MaxP99FreshnessMS))
		}
		if t.TracersMissed > 0 {
			why("%d tracer events not visible in time", t.TracersMissed)
		}
	}
	if t.Failed > 0 {
		why("%d events failed to send", t.Failed)
	}
	t.Sustainable = len(t.Why) == 0
}

// lagSlope is the least-squares slope (records/s) of the lag over the
// second half of its samples (0 with fewer than 2), and its maximum.
func lagSlope(lag []Point) (slope, top float64) {
	for _, p := range lag {
		top = math.Max(top, p.V)
	}
	if len(lag) < 4 {
		return 0, top
	}
	half := lag[len(lag)/2:]
	xs, ys := make([]float64, len(half)), make([]float64, len(half))
	for i, p := range half {
		xs[i] = p.T.Sub(half[0].T).Seconds()
		ys[i] = p.V
	}
	if xs[len(xs)-1] <= 0 {
		return 0, top
	}
	_, beta := stat.LinearRegression(xs, ys, nil, false)
	return beta, top
}

// PlanFit is the USL fitted over workers at one partition count.
type PlanFit struct {
	Partitions int    `json:"partitions"`
	Fit        *USL   `json:"fit,omitempty"`
	Error      string `json:"error,omitempty"`
	// PeakWorkers is N* (null when the curve has no peak: kappa = 0).
	PeakWorkers *float64 `json:"peak_workers"`
	// MaxEventsPerS is the curve's highest throughput (null: unbounded).
	MaxEventsPerS *float64 `json:"max_events_per_s"`
}

// FitCells fits the USL per partition count to the cells' maximum
// sustainable rates (cells without one are left out).
func FitCells(cells []PlanCell) []PlanFit {
	var parts []int
	for _, c := range cells {
		if !slices.Contains(parts, c.Partitions) {
			parts = append(parts, c.Partitions)
		}
	}
	slices.Sort(parts)
	var out []PlanFit
	for _, p := range parts {
		var pts []USLPoint
		for _, c := range cells {
			if c.Partitions == p && c.MaxSustainableEventsPerS > 0 {
				pts = append(pts, USLPoint{N: float64(c.Workers), X: c.MaxSustainableEventsPerS})
			}
		}
		pf := PlanFit{Partitions: p}
		u, err := FitUSL(pts)
		if err != nil {
			pf.Error = err.Error()
		} else {
			pf.Fit = &u
			if n := u.PeakN(); !math.IsInf(n, 1) {
				pf.PeakWorkers = &n
			}
			if x := u.MaxX(); !math.IsInf(x, 1) {
				pf.MaxEventsPerS = &x
			}
		}
		out = append(out, pf)
	}
	return out
}

// WriteFiles writes plan.json, plan.md and plan.html into dir.
func (r *PlanReport) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "plan.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "plan.md"), []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "plan.html"))
	if err != nil {
		return err
	}
	if err := r.WriteHTML(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadPlanFile reads a plan.json.
func ReadPlanFile(path string) (*PlanReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r PlanReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
