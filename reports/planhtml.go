package reports

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
)

//go:embed plan.html.tmpl
var planTemplateText string

var planTemplate = template.Must(template.New("plan").Funcs(template.FuncMap{"mul100": func(v float64) float64 { return 100 * v }}).Parse(planTemplateText))

// planView is what plan.html.tmpl renders: every number formatted.
type planView struct {
	R       *PlanReport
	Verdict string
	Started string
	Lines   []string
	Fits    [][]string
	Cells   [][]string
	Trials  []planTrialRow
	Charts  []htmlChart
	Config  [][2]string
	Errors  []string
}

type planTrialRow struct {
	Cols        []string
	Sustainable bool
}

// WriteHTML writes plan.html: one self-contained page (inline CSS, the
// charts as PNG data URIs). The recommendation comes first, then the
// fits, the cells, the charts (throughput vs workers with the fitted
// curves; p99 latency vs offered load per cell, knee marked), every trial
// and the plan.
func (r *PlanReport) WriteHTML(w io.Writer) error {
	v := &planView{R: r, Verdict: "EXACT", Started: r.StartedAt.UTC().Format("2006-01-02 15:04:05 MST"), Lines: r.Recommendation.Lines}
	checked := false
	for _, c := range r.Cells {
		checked = checked || c.Accuracy != nil
	}
	switch {
	case !r.Exact:
		v.Verdict = "NOT-EXACT"
	case !checked:
		v.Verdict = "UNCHECKED"
	}
	v.Fits = fitRows(r.Fits)
	v.Cells = cellRows(r.Cells)
	for _, c := range r.Cells {
		if c.Error != "" {
			v.Errors = append(v.Errors, fmt.Sprintf("%d partitions x %d workers: %s", c.Partitions, c.Workers, c.Error))
		}
		for i, t := range c.Trials {
			v.Trials = append(v.Trials, planTrialRow{Cols: trialCols(c, i, t), Sustainable: t.Sustainable})
		}
	}
	if png, err := ScalingChart(r.Cells, r.Fits, r.Recommendation.RequiredEventsPerS, r.Recommendation.Workers); err == nil {
		v.Charts = append(v.Charts, pngChart("max sustainable throughput vs workers", png))
	}
	for _, c := range r.Cells {
		if png, err := KneeChart(c); err == nil {
			v.Charts = append(v.Charts, pngChart(fmt.Sprintf("latency vs load %dx%d", c.Partitions, c.Workers), png))
		}
	}
	v.Config = flatten("", map[string]any(r.Config), nil)
	return planTemplate.Execute(w, v)
}

// fitRows are the fits as table rows: partitions, method, lambda, sigma,
// kappa, R², N*, curve max, note.
func fitRows(fits []PlanFit) [][]string {
	var out [][]string
	for _, f := range fits {
		if f.Fit == nil {
			out = append(out, []string{fmt.Sprint(f.Partitions), "-", "-", "-", "-", "-", "-", "-", f.Error})
			continue
		}
		u := f.Fit
		peak, top := "none (kappa = 0)", "unbounded"
		if f.PeakWorkers != nil {
			peak = fmt.Sprintf("%.1f", *f.PeakWorkers)
		}
		if f.MaxEventsPerS != nil {
			top = num(*f.MaxEventsPerS)
		}
		out = append(out, []string{fmt.Sprint(f.Partitions), u.Method, num(u.Lambda), fmt.Sprintf("%.4g", u.Sigma), fmt.Sprintf("%.4g", u.Kappa),
			fmt.Sprintf("%.3f", u.R2), peak, top, u.Note})
	}
	return out
}

// cellRows: partitions, workers, max sustainable, first unsustainable,
// trials, exact, duration.
func cellRows(cells []PlanCell) [][]string {
	var out [][]string
	for _, c := range cells {
		maxS := num(c.MaxSustainableEventsPerS)
		if c.Capped {
			maxS = ">= " + maxS
		}
		first := "-"
		if c.FirstUnsustainableEventsPerS > 0 {
			first = num(c.FirstUnsustainableEventsPerS)
		}
		exact := "not checked"
		if a := c.Accuracy; a != nil {
			exact = fmt.Sprintf("%v (%d events, %d windows)", a.Exact, a.CountedEvents, a.WindowsChecked)
		}
		out = append(out, []string{fmt.Sprint(c.Partitions), fmt.Sprint(c.Workers), maxS, first, fmt.Sprint(len(c.Trials)), exact,
			fmt.Sprintf("%.0f", c.DurationS)})
	}
	return out
}

// trialCols: cell, #, phase, offered, achieved (ratio), lag slope, lag
// max, p99 ack, p99 freshness, drain, verdict.
func trialCols(c PlanCell, i int, t PlanTrial) []string {
	verdict := "sustainable"
	if !t.Sustainable {
		verdict = "NOT: " + strings.Join(t.Why, "; ")
	}
	drain := fmt.Sprintf("%.1f", t.DrainS)
	if !t.Drained {
		drain += " (not drained)"
	}
	return []string{fmt.Sprintf("%dx%d", c.Partitions, c.Workers), fmt.Sprint(i + 1), t.Phase, num(t.OfferedEventsPerS),
		fmt.Sprintf("%s (%.1f%%)", num(math.Round(t.AchievedEventsPerS)), 100*t.AchievedRatio), fmt.Sprintf("%+.0f", t.LagSlopePerS),
		num(t.LagMax), num(t.IngestAck.P99), num(t.Freshness.P99), drain, verdict}
}
