package reports

import (
	"fmt"
	"math"
	"math/bits"
)

// maxPlanWorkers bounds the worker counts the recommendation considers.
const maxPlanWorkers = 4096

// Recommendation answers the plan's target from the fitted model.
type Recommendation struct {
	// PeakEventsPerS is the target's peak: events_per_day / 86400 *
	// peak_factor; RequiredEventsPerS the capacity that leaves the
	// headroom free at that peak: peak / (1 - headroom).
	PeakEventsPerS     float64 `json:"peak_events_per_s"`
	RequiredEventsPerS float64 `json:"required_events_per_s"`
	// FitPartitions is the partition count whose fit the answer uses.
	FitPartitions int `json:"fit_partitions"`
	// Workers, Partitions and Machines are the answer (0 when no fit
	// reaches the target).
	Workers    int `json:"workers"`
	Partitions int `json:"partitions"`
	Machines   int `json:"machines"`
	// WorkersPerMachine is how many workers one machine runs (from
	// cores_per_node / cores_per_worker; 0 with node_events_per_s).
	WorkersPerMachine int `json:"workers_per_machine,omitempty"`
	// ModelEventsPerS is the model's throughput at Workers; PeakUse the
	// peak's share of it.
	ModelEventsPerS float64 `json:"model_events_per_s"`
	PeakUse         float64 `json:"peak_use"`
	// BeyondPeak: the required rate is above the most the fitted curve
	// reaches (X at N* = sqrt((1-sigma)/kappa), or lambda/sigma); then
	// Pipelines independent pipelines of WorkersPerPipeline workers are
	// suggested instead.
	BeyondPeak         bool    `json:"beyond_peak"`
	Pipelines          int     `json:"pipelines,omitempty"`
	WorkersPerPipeline int     `json:"workers_per_pipeline,omitempty"`
	CurveMaxEventsPS   float64 `json:"curve_max_events_per_s,omitempty"`
	CurvePeakWorkers   float64 `json:"curve_peak_workers,omitempty"`
	// HotKeyShare is the hottest key's share of the events (Zipf over the
	// target's keys) and HotKeyEventsPerS its rate at peak: one partition,
	// one worker carries it alone.
	HotKeyShare      float64 `json:"hot_key_share"`
	HotKeyEventsPerS float64 `json:"hot_key_events_per_s"`
	// CPU is a worker's cores at the target from the measured cells
	// (cpuplan.go; nil: no cell's trials fitted).
	CPU *CPUSizing `json:"cpu,omitempty"`
	// Lines is the answer in words, as printed.
	Lines []string `json:"lines"`
}

// Recommend answers t from the fits and the measured cells: the fit that
// reaches the required rate with the fewest workers (the one with the
// highest curve when none does), the partitions (>= workers, a power of
// two, keeping the partitions-per-worker ratio of the best measured cell
// of that fit) and the machines.
func Recommend(t PlanTarget, fits []PlanFit, cells []PlanCell) Recommendation {
	rec := Recommendation{PeakEventsPerS: t.EventsPerDay / 86400 * t.PeakFactor}
	rec.RequiredEventsPerS = rec.PeakEventsPerS / (1 - t.Headroom)
	rec.HotKeyShare = zipfTopShare(t.Keys, t.ZipfS)
	rec.HotKeyEventsPerS = rec.HotKeyShare * rec.PeakEventsPerS
	say := func(format string, a ...any) { rec.Lines = append(rec.Lines, fmt.Sprintf(format, a...)) }
	say("target: %s events/day x %s peak = %s events/s at peak; with %.0f%% headroom the capacity needed is %s events/s",
		num(t.EventsPerDay), num(t.PeakFactor), num(rec.PeakEventsPerS), 100*t.Headroom, num(rec.RequiredEventsPerS))

	var best *PlanFit
	bestN := 0
	for i := range fits {
		f := &fits[i]
		if f.Fit == nil {
			continue
		}
		if n, ok := f.Fit.WorkersFor(rec.RequiredEventsPerS, maxPlanWorkers); ok && (bestN == 0 || n < bestN) {
			best, bestN = f, n
		}
	}
	if best == nil {
		// None reaches it: the one with the highest curve.
		for i := range fits {
			f := &fits[i]
			if f.Fit != nil && (best == nil || f.Fit.MaxX() > best.Fit.MaxX()) {
				best = f
			}
		}
	}
	if best == nil {
		say("no fit: no cell had a sustainable rate, so there is nothing to extrapolate from")
		return rec
	}
	u := best.Fit
	rec.FitPartitions = best.Partitions
	say("model (%d partitions, USL %s): lambda %s events/s per worker, sigma %.4g, kappa %.4g, R² %.3f",
		best.Partitions, u.Method, num(u.Lambda), u.Sigma, u.Kappa, u.R2)
	if u.Note != "" {
		say("note: %s", u.Note)
	}
	for _, c := range cells {
		if c.Partitions == best.Partitions && c.Capped {
			say("note: %d workers were still sustainable at the search's max rate (%s events/s): that point is a lower bound, and so is the model; raise search.max_events_per_s",
				c.Workers, num(c.MaxSustainableEventsPerS))
		}
	}
	if n := u.PeakN(); !math.IsInf(n, 1) {
		rec.CurvePeakWorkers = n
	}
	if x := u.MaxX(); !math.IsInf(x, 1) {
		rec.CurveMaxEventsPS = x
	}
	if bestN == 0 {
		// One pipeline cannot reach it: independent pipelines (the keys
		// split between them), each at the curve's peak, or where a
		// curve without one reaches 80% of its asymptote.
		rec.BeyondPeak = true
		per := int(math.Max(1, math.Round(rec.CurvePeakWorkers)))
		if rec.CurvePeakWorkers == 0 {
			per, _ = u.WorkersFor(0.8*rec.CurveMaxEventsPS, maxPlanWorkers)
			per = max(per, 1)
		}
		rec.WorkersPerPipeline = per
		rec.Pipelines = int(math.Ceil(rec.RequiredEventsPerS / u.X(float64(per))))
		if rec.CurvePeakWorkers > 0 {
			say("BEYOND THE PEAK: the fitted curve peaks at N* = sqrt((1-sigma)/kappa) = %.1f workers with %s events/s, below the %s needed: adding workers to one pipeline cannot reach the target",
				rec.CurvePeakWorkers, num(rec.CurveMaxEventsPS), num(rec.RequiredEventsPerS))
		} else {
			say("BEYOND THE CURVE: throughput approaches lambda/sigma = %s events/s, below the %s needed: adding workers to one pipeline cannot reach the target",
				num(rec.CurveMaxEventsPS), num(rec.RequiredEventsPerS))
		}
		say("instead: split the keys over %d independent pipelines of %d workers each (%s events/s each by the model), or remove the contention the fit shows",
			rec.Pipelines, per, num(u.X(float64(per))))
		return rec
	}
	rec.Workers = bestN
	rec.ModelEventsPerS = u.X(float64(bestN))
	rec.PeakUse = rec.PeakEventsPerS / rec.ModelEventsPerS
	ratio := 1.0
	var top float64
	for _, c := range cells {
		if c.Partitions == best.Partitions && c.MaxSustainableEventsPerS > top {
			top, ratio = c.MaxSustainableEventsPerS, float64(c.Partitions)/float64(c.Workers)
		}
	}
	rec.Partitions = nextPow2(max(bestN, int(math.Ceil(float64(bestN)*ratio))))
	switch {
	case t.NodeEventsPerS > 0:
		rec.Machines = int(math.Ceil(rec.RequiredEventsPerS / t.NodeEventsPerS))
	case t.CoresPerNode > 0:
		rec.WorkersPerMachine = max(1, int(math.Floor(float64(t.CoresPerNode)/t.CoresPerWorker)))
		rec.Machines = (bestN + rec.WorkersPerMachine - 1) / rec.WorkersPerMachine
	}
	say("answer: %d workers on %d partitions (the model gives %s events/s at %d workers; the peak uses %.0f%% of it)",
		rec.Workers, rec.Partitions, num(rec.ModelEventsPerS), rec.Workers, 100*rec.PeakUse)
	if t.NodeEventsPerS > 0 {
		say("machines: %d (at %s events/s per machine, with the headroom)", rec.Machines, num(t.NodeEventsPerS))
	} else {
		say("machines: %d (%d cores each, %s cores per worker: %d workers per machine)", rec.Machines, t.CoresPerNode, num(t.CoresPerWorker), rec.WorkersPerMachine)
	}
	if rec.CPU = cpuSizing(cells, best.Partitions, rec.Workers, rec.RequiredEventsPerS); rec.CPU != nil {
		say("%s", rec.CPU.Line(t.CoresPerWorker))
	}
	if rec.CurvePeakWorkers > 0 {
		say("the curve peaks at N* = %.1f workers (%s events/s): beyond it more workers lower throughput", rec.CurvePeakWorkers, num(rec.CurveMaxEventsPS))
	}
	if rec.HotKeyShare > 0 {
		line := fmt.Sprintf("hottest key: %.2f%% of events (Zipf s=%s over %s keys) = %s events/s at peak, carried by one partition and one worker",
			100*rec.HotKeyShare, num(t.ZipfS), num(t.Keys), num(rec.HotKeyEventsPerS))
		if rec.HotKeyEventsPerS > u.Lambda*(1-t.Headroom) {
			line += fmt.Sprintf(": MORE than one worker sustains with headroom (%s events/s); pre-aggregate or split hot keys", num(u.Lambda*(1-t.Headroom)))
		}
		say("%s", line)
	}
	return rec
}

// zipfTopShare is the rank-1 key's share under Zipf(s) over n keys:
// 1 / H(n, s) (1/n for s = 0). H is summed exactly up to 1e6 terms and by
// the Euler-Maclaurin tail beyond.
func zipfTopShare(n, s float64) float64 {
	if n < 1 {
		return 0
	}
	const exact = 1e6
	var h float64
	m := math.Min(n, exact)
	for k := m; k >= 1; k-- { // small terms first
		h += math.Pow(k, -s)
	}
	if n > exact {
		// Integral of x^-s from m to n, plus the endpoint corrections.
		var tail float64
		if s == 1 {
			tail = math.Log(n / m)
		} else {
			tail = (math.Pow(n, 1-s) - math.Pow(m, 1-s)) / (1 - s)
		}
		h += tail + (math.Pow(n, -s)-math.Pow(m, -s))/2
	}
	return 1 / h
}

// nextPow2 is the smallest power of two >= n (n >= 1).
func nextPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}
