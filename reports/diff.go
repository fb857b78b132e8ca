package reports

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Diff is two reports compared (countlab report diff): the regression
// gate's Comparison of the runs beside the accuracy and the SLOs of the
// last old and new runs. WriteText, JSON and WriteJUnit show it.
type Diff struct {
	cmp      *Comparison
	accuracy []diffRow
	exact    [2]bool
	slo      []sloDiff
	old, cur *Report
}

type diffRow struct {
	name     string
	old, cur float64
	worse    bool
}

type sloDiff struct {
	name       string
	old, cur   *SLOResult
	regression bool
}

// NewDiff is the gate's verdict cmp beside the accuracy and SLOs of
// the last old and new runs.
func NewDiff(old, cur *Report, cmp *Comparison) *Diff {
	d := &Diff{cmp: cmp, old: old, cur: cur, exact: [2]bool{old.Accuracy.Exact, cur.Accuracy.Exact}}
	oa, ca := old.Accuracy, cur.Accuracy
	d.accuracy = []diffRow{
		{"expected_events", float64(oa.ExpectedEvents), float64(ca.ExpectedEvents), false},
		{"counted_events", float64(oa.CountedEvents), float64(ca.CountedEvents), false},
		{"lost", float64(oa.Lost), float64(ca.Lost), ca.Lost > 0},
		{"duplicated", float64(oa.Duplicated), float64(ca.Duplicated), ca.Duplicated > 0},
		{"mismatched_windows", float64(oa.MismatchedWindows), float64(ca.MismatchedWindows), ca.MismatchedWindows > 0},
		{"unexpected_keys", float64(oa.UnexpectedKeys), float64(ca.UnexpectedKeys), ca.UnexpectedKeys > 0},
		{"windows_checked", float64(oa.WindowsChecked), float64(ca.WindowsChecked), false},
	}
	oldSLO := map[string]*SLOResult{}
	for i := range old.SLO {
		oldSLO[old.SLO[i].Name] = &old.SLO[i]
	}
	seen := map[string]bool{}
	for i := range cur.SLO {
		s := &cur.SLO[i]
		o := oldSLO[s.Name]
		seen[s.Name] = true
		d.slo = append(d.slo, sloDiff{name: s.Name, old: o, cur: s, regression: o != nil && o.Pass && !s.Pass})
	}
	for i := range old.SLO {
		if s := &old.SLO[i]; !seen[s.Name] {
			d.slo = append(d.slo, sloDiff{name: s.Name, old: s})
		}
	}
	return d
}

// Failures are why NEW is not acceptable: a regression, a failed SLO, an
// inexact count.
func (d *Diff) Failures() []string {
	var out []string
	for _, m := range d.cmp.Regressed {
		out = append(out, "regressed "+m)
	}
	for _, s := range d.slo {
		if s.cur != nil && !s.cur.Pass {
			out = append(out, fmt.Sprintf("SLO %s failed: %g (threshold %g)", s.name, s.cur.Value, s.cur.Threshold))
		}
	}
	if !d.exact[1] {
		out = append(out, "accuracy not exact: "+d.accuracyDetail())
	}
	return out
}

func (d *Diff) accuracyDetail() string {
	a := d.cur.Accuracy
	return fmt.Sprintf("%d of %d windows differ, lost %d, duplicated %d, %d unexpected keys", a.MismatchedWindows, a.WindowsChecked, a.Lost, a.Duplicated, a.UnexpectedKeys)
}

func fmtNum(v float64) string {
	if v == float64(int64(v)) && v < 1e15 && v > -1e15 {
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprintf("%.4g", v)
}

// WriteText writes d as the table of countlab report diff, then the
// verdict.
func (d *Diff) WriteText(w io.Writer, oldPath, newPath string) {
	fmt.Fprintf(w, "old: %s (%s, %s)\nnew: %s (%s, %s)\n\n", oldPath, d.old.Scenario, d.old.StartedAt.Format("2006-01-02 15:04:05Z07:00"),
		newPath, d.cur.Scenario, d.cur.StartedAt.Format("2006-01-02 15:04:05Z07:00"))
	var rows [][]string
	row := func(cells ...string) { rows = append(rows, cells) }
	row("metric", "old", "new", "change", "min effect", "")
	for _, m := range d.cmp.Metrics {
		mark := fmt.Sprintf("ok (p=%.2g)", m.P)
		switch {
		case m.Regressed:
			mark = fmt.Sprintf("REGRESSED (p=%.2g)", m.P)
		case !m.Gated:
			mark = m.NotGated
		}
		row(m.Name, fmtNum(m.Baseline), fmtNum(m.Value), fmt.Sprintf("%+.1f%%", 100*m.Change), fmt.Sprintf("%.0f%% and %s", 100*m.Tolerance, fmtNum(m.MinAbs)), mark)
	}
	row()
	row("accuracy", "old", "new", "change", "", "")
	mark := "ok"
	if !d.exact[1] {
		mark = "NOT EXACT"
	}
	row("exact", fmt.Sprint(d.exact[0]), fmt.Sprint(d.exact[1]), "", "", mark)
	for _, a := range d.accuracy {
		mark := ""
		if a.worse {
			mark = "BAD"
		}
		row(a.name, fmtNum(a.old), fmtNum(a.cur), fmt.Sprintf("%+d", int64(a.cur-a.old)), "", mark)
	}
	row()
	row("SLO", "old", "new", "threshold", "", "")
	for _, s := range d.slo {
		oldV, newV, thr, mark := "-", "-", "-", "gone"
		if s.old != nil {
			oldV = sloValue(s.old)
		}
		if s.cur != nil {
			newV, thr, mark = sloValue(s.cur), sloThreshold(s.cur), "pass"
			if !s.cur.Pass {
				mark = "FAIL"
			}
			if s.regression {
				mark = "FAIL (was pass)"
			}
		}
		row(s.name, oldV, newV, thr, "", mark)
	}
	writeTable(w, rows)
	if f := d.Failures(); len(f) > 0 {
		fmt.Fprintf(w, "\nverdict: FAIL\n")
		for _, s := range f {
			fmt.Fprintf(w, "  %s\n", s)
		}
		return
	}
	for _, f := range d.cmp.Flags {
		fmt.Fprintf(w, "note: %s\n", f)
	}
	fmt.Fprintf(w, "\nverdict: PASS (%d vs %d runs: no regression in the gated metrics, every SLO holds, exact)\n", d.cmp.Runs, d.cmp.BaselineRuns)
}

// writeTable writes rows in columns: the first and last left-aligned, the
// numbers between right-aligned; an empty row is a blank line.
func writeTable(w io.Writer, rows [][]string) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			switch {
			case i == 0:
				b.WriteString(c + pad)
			case i == len(width)-1:
				b.WriteString("  " + c)
			default:
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

func sloValue(s *SLOResult) string {
	if s.Kind == "exact" {
		return fmt.Sprint(s.Pass)
	}
	return fmtNum(s.Value)
}

func sloThreshold(s *SLOResult) string {
	switch s.Kind {
	case "max":
		return "<= " + fmtNum(s.Threshold)
	case "min":
		return ">= " + fmtNum(s.Threshold)
	}
	return "exact"
}
