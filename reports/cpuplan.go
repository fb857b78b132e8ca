package reports

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/stat"
)

// TrialCPU is a plan trial's CPU figures (from its CPU block).
type TrialCPU struct {
	// EngineCores is the engine workers' cores (their processes, or the
	// engine stage in process); SUTCores the system under test's end to
	// end; HarnessCores the load generator's and sender's.
	EngineCores  float64 `json:"engine_cores"`
	SUTCores     float64 `json:"sut_cores"`
	HarnessCores float64 `json:"harness_cores"`
	// EngineMicrosPerEvent and SUTMicrosPerEvent are CPU-µs per
	// acknowledged event.
	EngineMicrosPerEvent float64 `json:"engine_cpu_us_per_event"`
	SUTMicrosPerEvent    float64 `json:"sut_cpu_us_per_event"`
	EventsPerCoreS       float64 `json:"events_per_core_s"`
	TotalsPerEvent       float64 `json:"totals_per_event"`
	PointsPerEvent       float64 `json:"points_per_event"`
}

// Trial is c's figures for a plan trial.
func (c *CPU) Trial() *TrialCPU {
	t := &TrialCPU{EngineCores: c.EngineCores(), SUTCores: c.SUT.Cores, HarnessCores: c.Harness.Cores,
		SUTMicrosPerEvent: c.SUT.MicrosPerEvent, EventsPerCoreS: c.EventsPerCoreS, TotalsPerEvent: c.TotalsPerEvent, PointsPerEvent: c.PointsPerEvent}
	if c.Events > 0 {
		t.EngineMicrosPerEvent = t.EngineCores * c.WindowS * 1e6 / float64(c.Events)
	}
	return t
}

// CPUFit is the least-squares line of a cell's engine cores against the
// achieved rate over its trials: cores = FixedCores + rate ×
// MarginalMicrosPerEvent / 1e6. The fixed part is what the engine spends
// whatever the rate (commits, totals re-emitted per touched window every
// commit interval, polling); the marginal part is per event.
type CPUFit struct {
	FixedCores             float64 `json:"fixed_cores"`
	MarginalMicrosPerEvent float64 `json:"marginal_cpu_us_per_event"`
	R2                     float64 `json:"r2"`
	Trials                 int     `json:"trials"`
}

// Cores is the fit's engine cores at rate events/s.
func (f *CPUFit) Cores(rate float64) float64 { return f.FixedCores + rate*f.MarginalMicrosPerEvent/1e6 }

// FitCellCPU fits the engine cores of trials against their achieved
// rates (nil with fewer than two trials measured at different rates).
func FitCellCPU(trials []PlanTrial) *CPUFit {
	var xs, ys []float64
	for _, t := range trials {
		if t.CPU != nil && t.AchievedEventsPerS > 0 && t.Error == "" {
			xs, ys = append(xs, t.AchievedEventsPerS), append(ys, t.CPU.EngineCores)
		}
	}
	if len(xs) < 2 || stat.Variance(xs, nil) == 0 {
		return nil
	}
	alpha, beta := stat.LinearRegression(xs, ys, nil, false)
	if math.IsNaN(alpha) || math.IsNaN(beta) {
		return nil
	}
	f := &CPUFit{FixedCores: alpha, MarginalMicrosPerEvent: beta * 1e6, Trials: len(xs)}
	if r2 := stat.RSquared(xs, ys, nil, alpha, beta); !math.IsNaN(r2) {
		f.R2 = r2
	}
	return f
}

// CPUSizing is the recommendation's CPU answer: the cores one engine
// worker needs at the target, from a measured cell's fit.
type CPUSizing struct {
	// Cell is the cell whose fit is used: the fit's partition count, the
	// most workers with a fit.
	CellPartitions int `json:"cell_partitions"`
	CellWorkers    int `json:"cell_workers"`
	// FixedCoresPerWorker is the fit's intercept over the cell's workers;
	// MarginalMicrosPerEvent its slope.
	FixedCoresPerWorker    float64 `json:"fixed_cores_per_worker"`
	MarginalMicrosPerEvent float64 `json:"marginal_cpu_us_per_event"`
	R2                     float64 `json:"r2"`
	// CoresPerWorker is a worker's cores at the required rate split over
	// the recommended workers: fixed + (required / workers) × marginal.
	CoresPerWorker float64 `json:"cores_per_worker_at_target"`
}

// cpuSizing sizes a worker's cores at rate events/s over workers from
// the fit of the cell of partitions with the most workers (nil: none).
func cpuSizing(cells []PlanCell, partitions, workers int, rate float64) *CPUSizing {
	var best *PlanCell
	for i := range cells {
		c := &cells[i]
		if c.Partitions == partitions && c.CPUFit != nil && (best == nil || c.Workers > best.Workers) {
			best = c
		}
	}
	if best == nil || workers < 1 {
		return nil
	}
	f := best.CPUFit
	s := &CPUSizing{CellPartitions: best.Partitions, CellWorkers: best.Workers, FixedCoresPerWorker: f.FixedCores / float64(best.Workers),
		MarginalMicrosPerEvent: f.MarginalMicrosPerEvent, R2: f.R2}
	s.CoresPerWorker = s.FixedCoresPerWorker + rate/float64(workers)*f.MarginalMicrosPerEvent/1e6
	return s
}

// Line is the sizing in words, against the target's cores per worker.
func (s *CPUSizing) Line(given float64) string {
	l := fmt.Sprintf("cpu: %.2f cores per worker at the target (fixed %.3f cores per worker + %.1f CPU-µs per event marginal, fitted over the trials of cell %dx%d, R² %.2f)",
		s.CoresPerWorker, s.FixedCoresPerWorker, s.MarginalMicrosPerEvent, s.CellPartitions, s.CellWorkers, s.R2)
	if given > 0 && s.CoresPerWorker > given {
		l += fmt.Sprintf(": MORE than the target's cores_per_worker %s; give workers more cores or plan more workers", num(given))
	}
	return l
}

// cpuMarkdown is plan.md's CPU section: each cell's fit and each trial's
// CPU per event.
func (r *PlanReport) cpuMarkdown(b *strings.Builder) {
	var rows [][]string
	for _, c := range r.Cells {
		for i, t := range c.Trials {
			if t.CPU == nil {
				continue
			}
			rows = append(rows, []string{fmt.Sprintf("%dx%d", c.Partitions, c.Workers), fmt.Sprint(i + 1), num(t.AchievedEventsPerS),
				fmt.Sprintf("%.3f", t.CPU.EngineCores), fmt.Sprintf("%.1f", t.CPU.EngineMicrosPerEvent), fmt.Sprintf("%.3f", t.CPU.SUTCores),
				fmt.Sprintf("%.1f", t.CPU.SUTMicrosPerEvent), fmt.Sprintf("%.3f", t.CPU.HarnessCores), fmt.Sprintf("%.2f", t.CPU.TotalsPerEvent)})
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n## CPU\n\nCPU time from /proc over each trial's traffic (see a run report's cpu block); the engine's cores fitted against the achieved rate per cell: fixed (intercept) and marginal (slope) cost.\n\n")
	var fits [][]string
	for _, c := range r.Cells {
		if f := c.CPUFit; f != nil {
			fits = append(fits, []string{fmt.Sprintf("%dx%d", c.Partitions, c.Workers), fmt.Sprintf("%.3f", f.FixedCores),
				fmt.Sprintf("%.1f", f.MarginalMicrosPerEvent), fmt.Sprintf("%.2f", f.R2), fmt.Sprint(f.Trials)})
		}
	}
	if len(fits) > 0 {
		planTable(b, []string{"cell", "fixed engine cores", "marginal CPU-µs/event", "R²", "trials"}, fits)
		b.WriteString("\n")
	}
	planTable(b, []string{"cell", "#", "achieved", "engine cores", "engine CPU-µs/event", "SUT cores", "SUT CPU-µs/event", "harness cores", "totals/event"}, rows)
}
