package main

import (
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/reports"
)

const reportUsage = `usage: countlab report diff OLD NEW [--junit FILE]
       countlab report html REPORT.json [-o FILE]
       countlab report merge SHARD/report.json ... -o DIR [--check CHECK.json]

diff  gates NEW against OLD metric by metric with the regression gate of
      countlab run --baseline (a rank test between the runs and a minimum
      effect per metric, from NEW's scenario; percentiles with too few samples
      behind them are not gated), shows accuracy and every SLO side by side,
      and exits 1 when NEW regressed, failed an SLO or is not exact, 2 when
      the runs are not comparable (another scenario, duration or seed).
      OLD and NEW are each a report.json, a run directory or a directory of
      runs (countlab run --repeat); several are comma-separated.
      --junit writes the verdicts as JUnit XML.
html  writes the HTML report of a report.json (default: report.html next to it).
merge combines the reports of sharded generators (countlab load) into one in DIR:
      rates and counts add, the latencies are the percentiles of the shards'
      summed HDR histograms (latency.hdr beside each report.json, exact);
      --check takes the accuracy from countlab check --truth ... --json.
`

// cmdReport works on report.json files after a run.
func cmdReport(_ context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("a subcommand is required\n\n%s", reportUsage)
	}
	switch args[0] {
	case "diff":
		return cmdReportDiff(os.Stdout, args[1:])
	case "html":
		return cmdReportHTML(os.Stdout, args[1:])
	case "merge":
		return cmdReportMerge(os.Stdout, args[1:]) // reportmerge.go
	case "-h", "--help", "help":
		fmt.Fprint(os.Stderr, reportUsage+reportHelpMore) // reportdiffjson.go
		return flag.ErrHelp
	}
	return usagef("unknown subcommand %q\n\n%s", args[0], reportUsage)
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{Err: err}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func cmdReportHTML(out io.Writer, args []string) error {
	fs := newFlagSet("report html")
	setUsage(fs, "countlab report html REPORT.json [-o FILE]")
	o := fs.String("o", "", "the HTML file to write (default report.html next to REPORT.json)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one REPORT.json, got %d arguments", len(pos))
	}
	r, err := reports.ReadFile(pos[0])
	if err != nil {
		return usageError{Err: err}
	}
	path := *o
	if path == "" {
		path = filepath.Join(filepath.Dir(pos[0]), "report.html")
	}
	if err := r.WriteHTMLFile(path); err != nil {
		return err
	}
	fmt.Fprintln(out, path)
	return nil
}

func cmdReportDiff(out io.Writer, args []string) error {
	fs := newFlagSet("report diff")
	setUsage(fs, "countlab report diff OLD NEW [--junit FILE]")
	junit := fs.String("junit", "", "also write the verdicts as JUnit XML to this file")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("want OLD NEW, got %d arguments", len(pos))
	}
	var oldArgs, newArgs listFlag
	_ = oldArgs.Set(pos[0])
	_ = newArgs.Set(pos[1])
	oldRuns, err := reports.LoadRuns(oldArgs...)
	if err != nil {
		return usageError{Err: err}
	}
	curRuns, err := reports.LoadRuns(newArgs...)
	if err != nil {
		return usageError{Err: err}
	}
	cmp, err := run.GateRuns(oldRuns, curRuns) // gate.go: exit 2 when not comparable
	if err != nil {
		return err
	}
	cur := curRuns[len(curRuns)-1].Report
	d := diffReports(oldRuns[len(oldRuns)-1].Report, cur, cmp)
	d.write(out, pos[0], pos[1])
	if *junit != "" {
		if err := d.writeJUnit(*junit, cur.Scenario); err != nil {
			return err
		}
	}
	if fails := d.failures(); len(fails) > 0 {
		return exitError{1, fmt.Errorf("%s: %s", pos[1], strings.Join(fails, "; "))}
	}
	return nil
}

// reportDiff is two reports compared: the baseline comparison of
// reports.Compare plus accuracy and the SLOs side by side.
type reportDiff struct {
	cmp      *reports.Comparison
	accuracy []diffRow
	exact    [2]bool
	slo      []sloDiff
	old, cur *reports.Report
}

type diffRow struct {
	name     string
	old, cur float64
	worse    bool
}

type sloDiff struct {
	name       string
	old, cur   *reports.SLOResult
	regression bool
}

// diffReports is the gate's verdict cmp beside the accuracy and SLOs of
// the last old and new runs.
func diffReports(old, cur *reports.Report, cmp *reports.Comparison) *reportDiff {
	d := &reportDiff{cmp: cmp, old: old, cur: cur, exact: [2]bool{old.Accuracy.Exact, cur.Accuracy.Exact}}
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
	oldSLO := map[string]*reports.SLOResult{}
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

// failures are why NEW is not acceptable: a regression, a failed SLO, an
// inexact count.
func (d *reportDiff) failures() []string {
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

func (d *reportDiff) accuracyDetail() string {
	a := d.cur.Accuracy
	return fmt.Sprintf("%d of %d windows differ, lost %d, duplicated %d, %d unexpected keys", a.MismatchedWindows, a.WindowsChecked, a.Lost, a.Duplicated, a.UnexpectedKeys)
}

func fmtNum(v float64) string {
	if v == float64(int64(v)) && v < 1e15 && v > -1e15 {
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprintf("%.4g", v)
}

func (d *reportDiff) write(w io.Writer, oldPath, newPath string) {
	if reportDiffJSON { // --json (reportdiffjson.go)
		d.writeJSON(w, oldPath, newPath)
		return
	}
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
	if f := d.failures(); len(f) > 0 {
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

func sloValue(s *reports.SLOResult) string {
	if s.Kind == "exact" {
		return fmt.Sprint(s.Pass)
	}
	return fmtNum(s.Value)
}

func sloThreshold(s *reports.SLOResult) string {
	switch s.Kind {
	case "max":
		return "<= " + fmtNum(s.Threshold)
	case "min":
		return ">= " + fmtNum(s.Threshold)
	}
	return "exact"
}

// JUnit XML, the subset CI systems read.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// junit is the verdicts as JUnit: one test case per SLO of NEW, one for
// accuracy and one per compared metric.
func (d *reportDiff) junit(scenario string) junitSuites {
	s := junitSuite{Name: "countlab report diff: " + scenario}
	add := func(class, name, fail string) {
		c := junitCase{Name: name, ClassName: "countlab." + class}
		if fail != "" {
			c.Failure = &junitFailure{Message: fail, Text: fail}
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
	}
	for _, sl := range d.slo {
		if sl.cur == nil {
			continue
		}
		fail := ""
		if !sl.cur.Pass {
			fail = fmt.Sprintf("%s = %s, want %s", sl.name, sloValue(sl.cur), sloThreshold(sl.cur))
		}
		add("slo", sl.name, fail)
	}
	fail := ""
	if !d.exact[1] {
		fail = "not exact: " + d.accuracyDetail()
	}
	add("accuracy", "exact", fail)
	for _, m := range d.cmp.Metrics {
		fail := ""
		if m.Regressed {
			fail = fmt.Sprintf("%s: %s vs baseline %s (%+.1f%%; minimum effect %.0f%% and %s; p=%.2g)", m.Name, fmtNum(m.Value), fmtNum(m.Baseline), 100*m.Change, 100*m.Tolerance, fmtNum(m.MinAbs), m.P)
		}
		add("regression", m.Name, fail)
	}
	s.Tests = len(s.Cases)
	return junitSuites{Suites: []junitSuite{s}}
}

func (d *reportDiff) writeJUnit(path, scenario string) error {
	b, err := xml.MarshalIndent(d.junit(scenario), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}
