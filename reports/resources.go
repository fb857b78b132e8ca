package reports

import (
	"fmt"
	"math"
	"strings"
	"time"

	"gonum.org/v1/gonum/stat"
)

// DefaultWarmup is the share of a run's samples (by time, from the first)
// left out of a resource slope fit: start-up allocations, caches and
// connection pools filling are not a leak.
const DefaultWarmup = 0.2

// HarnessProcess is the process name of countlab itself in Resources. It
// holds the truth (sim/oracle) (every distinct event id sent) and, when
// the broker is embedded, the topics' logs: its memory grows with the
// events sent by design, so the RSS slope SLO does not apply to it (see
// Thresholds.MaxHarnessRSSSlopeMiBPerH).
const HarnessProcess = "countlab"

// ResourceUsage is one process's memory and goroutines over a run, with
// least-squares slopes fitted after the warm-up.
type ResourceUsage struct {
	// Process names the process: "countlab" (the harness itself, with
	// every in-process part of the stack), "engine-N" (an engine worker
	// process), "influxd".
	Process string `json:"process"`
	// PID is the process id at the last sample (a restarted worker has a
	// new one).
	PID         int     `json:"pid"`
	RSSMiBStart float64 `json:"rss_mib_start"`
	RSSMiBEnd   float64 `json:"rss_mib_end"`
	// RSSSlopeMiBPerH is the least-squares slope of the resident set size
	// over the samples after the warm-up, in MiB an hour.
	RSSSlopeMiBPerH float64 `json:"rss_slope_mib_per_h"`
	// Goroutines at the first and last sample, and their slope an hour
	// (all 0 when GoroutinesMeasured is false).
	GoroutinesStart    int     `json:"goroutines_start"`
	GoroutinesEnd      int     `json:"goroutines_end"`
	GoroutineSlopePerH float64 `json:"goroutine_slope_per_h"`
	GoroutinesMeasured bool    `json:"goroutines_measured"`
	// HeapMiBEnd is the Go heap in use at the last sample, when known
	// (the countlab process: runtime/metrics).
	HeapMiBEnd float64 `json:"heap_mib_end,omitempty"`
	// LiveHeapMiBStart, LiveHeapMiBEnd and LiveHeapSlopeMiBPerH are the
	// Go heap still reachable at the last collection (runtime/metrics
	// /gc/heap/live:bytes) at the first and last sample and its slope
	// after the warm-up, when known (the countlab process). This, not the
	// RSS, is what a leak grows: the RSS also follows the collector's
	// target (about twice the live heap, capped by a memory limit).
	LiveHeapMiBStart     float64 `json:"live_heap_mib_start,omitempty"`
	LiveHeapMiBEnd       float64 `json:"live_heap_mib_end,omitempty"`
	LiveHeapSlopeMiBPerH float64 `json:"live_heap_slope_mib_per_h,omitempty"`
	// Samples is the number of samples; FitFromS is where the fit starts,
	// in seconds from the first sample (the warm-up before it is left out).
	Samples  int     `json:"samples"`
	FitFromS float64 `json:"fit_from_s"`
}

// ProcessSamples is what a resource sampler measured of one process over
// a run.
type ProcessSamples struct {
	Process string
	PID     int
	// RSS is the resident set size in MiB.
	RSS []Point
	// Goroutines is the number of goroutines (empty: not measurable).
	Goroutines []Point
	// Heap is the Go heap in use in MiB (empty: not measured).
	Heap []Point
	// LiveHeap is the Go heap live at the last collection in MiB (empty:
	// not measured).
	LiveHeap []Point
}

// Usage fits p's slopes, leaving the first warmup share (in [0, 1)) of its
// time span out of the fit.
func (p *ProcessSamples) Usage(warmup float64) ResourceUsage {
	u := ResourceUsage{Process: p.Process, PID: p.PID, Samples: len(p.RSS)}
	if n := len(p.RSS); n > 0 {
		u.RSSMiBStart, u.RSSMiBEnd = p.RSS[0].V, p.RSS[n-1].V
		u.RSSSlopeMiBPerH, u.FitFromS = SlopePerHour(p.RSS, warmup)
	}
	if n := len(p.Goroutines); n > 0 {
		u.GoroutinesMeasured = true
		u.GoroutinesStart, u.GoroutinesEnd = int(p.Goroutines[0].V), int(p.Goroutines[n-1].V)
		u.GoroutineSlopePerH, _ = SlopePerHour(p.Goroutines, warmup)
	}
	if n := len(p.Heap); n > 0 {
		u.HeapMiBEnd = p.Heap[n-1].V
	}
	if n := len(p.LiveHeap); n > 0 {
		u.LiveHeapMiBStart, u.LiveHeapMiBEnd = p.LiveHeap[0].V, p.LiveHeap[n-1].V
		u.LiveHeapSlopeMiBPerH, _ = SlopePerHour(p.LiveHeap, warmup)
	}
	return u
}

// minFitPoints is the fewest samples a slope is fitted to.
const minFitPoints = 3

// SlopePerHour is the least-squares slope (gonum stat.LinearRegression) of
// pts against time, in units an hour, over the points after the first
// warmup share of their time span; from is where the fit starts, in
// seconds from the first point. Fewer than 3 points after the warm-up fit
// to 0.
func SlopePerHour(pts []Point, warmup float64) (slope, from float64) {
	if len(pts) == 0 {
		return 0, 0
	}
	warmup = min(max(warmup, 0), 0.95)
	t0 := pts[0].T
	span := pts[len(pts)-1].T.Sub(t0)
	cut := time.Duration(float64(span) * warmup)
	var x, y []float64
	for _, p := range pts {
		if d := p.T.Sub(t0); d >= cut {
			x = append(x, d.Seconds())
			y = append(y, p.V)
		}
	}
	if len(x) < minFitPoints || x[len(x)-1] == x[0] {
		return 0, cut.Seconds()
	}
	_, beta := stat.LinearRegression(x, y, nil, false)
	if math.IsNaN(beta) || math.IsInf(beta, 0) {
		return 0, cut.Seconds()
	}
	return beta * 3600, cut.Seconds()
}

// resourceSLOs adds the resource-growth SLOs of t to r.SLO: one row per
// process and bound.
func (r *Report) resourceSLOs(t Thresholds) {
	add := func(name string, threshold, value float64) {
		v := round3(value)
		r.SLO = append(r.SLO, SLOResult{Name: name, Threshold: threshold, Value: v, Pass: v <= threshold, Kind: "max"})
	}
	for _, u := range r.Resources {
		harness := u.Process == HarnessProcess
		if t.MaxRSSSlopeMiBPerH > 0 && !harness {
			add("max_rss_slope_mib_per_h ("+u.Process+")", t.MaxRSSSlopeMiBPerH, u.RSSSlopeMiBPerH)
		}
		if t.MaxHarnessRSSSlopeMiBPerH > 0 && harness {
			add("max_harness_rss_slope_mib_per_h ("+u.Process+")", t.MaxHarnessRSSSlopeMiBPerH, u.RSSSlopeMiBPerH)
		}
		if t.MaxHarnessRSSMiB > 0 && harness {
			add("max_harness_rss_mib ("+u.Process+")", t.MaxHarnessRSSMiB, u.RSSMiBEnd)
		}
		if t.MaxGoroutineSlopePerH > 0 && u.GoroutinesMeasured {
			add("max_goroutine_slope_per_h ("+u.Process+")", t.MaxGoroutineSlopePerH, u.GoroutineSlopePerH)
		}
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// BoundsGrowth reports whether the run's scenario bounds resource growth
// (an RSS or goroutine slope SLO, as soak does): only then are the fitted
// slopes shown in report.md and report.html, as countlab run prints them
// only then. Over a short run a slope extrapolated to an hour says little
// (start-up allocations, caches); report.json always has them.
func (r *Report) BoundsGrowth() bool {
	for _, s := range r.SLO {
		for _, p := range []string{"max_rss_slope_mib_per_h", "max_harness_rss_slope_mib_per_h", "max_goroutine_slope_per_h"} {
			if strings.HasPrefix(s.Name, p) {
				return true
			}
		}
	}
	return false
}

// resourcesTable is the resources table's head and rows, with the slope
// columns only when the run bounds growth.
func (r *Report) resourcesTable() (head []string, rows [][]string) {
	slopes := r.BoundsGrowth()
	head = []string{"process", "pid", "RSS start (MiB)", "RSS end (MiB)", "goroutines start", "goroutines end", "samples"}
	if slopes {
		head = []string{"process", "pid", "RSS start (MiB)", "RSS end (MiB)", "RSS slope (MiB/h)", "goroutines start", "goroutines end", "goroutine slope (/h)", "samples"}
	}
	for _, u := range r.Resources {
		gs, ge, gsl := "n/a", "n/a", "n/a"
		if u.GoroutinesMeasured {
			gs, ge, gsl = fmt.Sprint(u.GoroutinesStart), fmt.Sprint(u.GoroutinesEnd), fmt.Sprintf("%.1f", u.GoroutineSlopePerH)
		}
		row := []string{u.Process, fmt.Sprint(u.PID), fmt.Sprintf("%.1f", u.RSSMiBStart), fmt.Sprintf("%.1f", u.RSSMiBEnd), gs, ge, fmt.Sprint(u.Samples)}
		if slopes {
			row = []string{u.Process, fmt.Sprint(u.PID), fmt.Sprintf("%.1f", u.RSSMiBStart), fmt.Sprintf("%.1f", u.RSSMiBEnd),
				fmt.Sprintf("%.1f", u.RSSSlopeMiBPerH), gs, ge, gsl, fmt.Sprint(u.Samples)}
		}
		rows = append(rows, row)
	}
	return head, rows
}

// resourcesNote is the sentence above the resources table.
func (r *Report) resourcesNote() string {
	note := "Resident memory and goroutines of each process, sampled every second. The countlab process holds the truth of every event id sent (and the embedded broker's log), which grows with the traffic by design."
	if r.BoundsGrowth() {
		note += fmt.Sprintf(" Slopes are least-squares fits after the first %.0f s (warm-up).", r.Resources[0].FitFromS)
		for _, u := range r.Resources {
			if u.LiveHeapMiBEnd > 0 {
				note += fmt.Sprintf(" %s's live Go heap (reachable at the last collection; its RSS also follows the collector's target): %.0f -> %.0f MiB, %+.1f MiB/h.",
					u.Process, u.LiveHeapMiBStart, u.LiveHeapMiBEnd, u.LiveHeapSlopeMiBPerH)
			}
		}
		return note
	}
	return note + " Growth slopes are shown only for scenarios that bound them (soak): over a short run they say little (report.json has them)."
}

// resourcesMarkdown is report.md's resources section.
func (r *Report) resourcesMarkdown(b *strings.Builder) {
	if len(r.Resources) == 0 {
		return
	}
	fmt.Fprintf(b, "\n## Resources\n\n%s\n\n", r.resourcesNote())
	head, rows := r.resourcesTable()
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|---|" + strings.Repeat("---:|", len(head)-1) + "\n")
	for _, row := range rows {
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
}

// resourcesHTML fills v's resources table and adds the resident memory
// and goroutines charts (faults shaded).
func (r *Report) resourcesHTML(v *htmlView, ts *TimeSeries, spans []Span) error {
	if len(r.Resources) > 0 {
		v.Resources.Head, v.Resources.Rows = r.resourcesTable()
		v.ResourcesNote = r.resourcesNote()
	}
	if ts == nil {
		return nil
	}
	if len(ts.RSS) > 0 {
		png, err := TimeChart("Resident memory (MiB)", "MiB", ts.RSS, spans)
		if err != nil {
			return fmt.Errorf("memory chart: %w", err)
		}
		v.Charts = append(v.Charts, pngChart("resident memory over time", png))
	}
	if len(ts.Goroutines) > 0 {
		png, err := TimeChart("Goroutines", "goroutines", ts.Goroutines, spans)
		if err != nil {
			return fmt.Errorf("goroutines chart: %w", err)
		}
		v.Charts = append(v.Charts, pngChart("goroutines over time", png))
	}
	return nil
}
