package main

import (
	"io"
	"time"

	"github.com/countlab/countlab/reports"
)

// diffJSON is `countlab report diff --json`'s output: what the text table
// shows, typed.
type diffJSON struct {
	Old diffSide `json:"old"`
	New diffSide `json:"new"`
	// Pass is false when NEW regressed, failed an SLO or is not exact;
	// Failures says why (the exit code is 1 then).
	Pass     bool              `json:"pass"`
	Failures []string          `json:"failures"`
	Metrics  []reports.Metric  `json:"metrics"`
	Exact    diffPair[bool]    `json:"exact"`
	Accuracy []diffAccuracyRow `json:"accuracy"`
	SLO      []diffSLORow      `json:"slo"`
}

type diffSide struct {
	Path      string    `json:"path"`
	Scenario  string    `json:"scenario"`
	StartedAt time.Time `json:"started_at"`
}

type diffPair[T any] struct {
	Old T `json:"old"`
	New T `json:"new"`
}

type diffAccuracyRow struct {
	Name string  `json:"name"`
	Old  float64 `json:"old"`
	New  float64 `json:"new"`
	// Bad is set when NEW's value is not acceptable (lost > 0, say).
	Bad bool `json:"bad"`
}

type diffSLORow struct {
	Name string             `json:"name"`
	Old  *reports.SLOResult `json:"old"`
	New  *reports.SLOResult `json:"new"`
	// Regression is set when OLD passed and NEW fails.
	Regression bool `json:"regression"`
}

// writeJSON writes d as diffJSON to w.
func (d *reportDiff) writeJSON(w io.Writer, oldPath, newPath string) {
	out := diffJSON{
		Old:      diffSide{oldPath, d.old.Scenario, d.old.StartedAt},
		New:      diffSide{newPath, d.cur.Scenario, d.cur.StartedAt},
		Failures: d.failures(),
		Metrics:  d.cmp.Metrics,
		Exact:    diffPair[bool]{d.exact[0], d.exact[1]},
	}
	out.Pass = len(out.Failures) == 0
	if out.Failures == nil {
		out.Failures = []string{}
	}
	for _, a := range d.accuracy {
		out.Accuracy = append(out.Accuracy, diffAccuracyRow{a.name, a.old, a.cur, a.worse})
	}
	for _, s := range d.slo {
		out.SLO = append(out.SLO, diffSLORow{s.name, s.old, s.cur, s.regression})
	}
	_ = printJSON(w, out) // stdout: nothing to do about an error
}

// reportDiffJSON is report diff's --json: withOps takes it out of the
// arguments and reportDiff.write asks it.
var reportDiffJSON bool

// reportHelpMore follows reportUsage in `countlab report -h`.
const reportHelpMore = `
--json (diff) prints the comparison as typed JSON instead of the table; the
exit code is the same.

example:
  countlab report diff baseline/report.json reports/out/quickstart-20260101T100000Z/report.json --json

environment:
  none

Run 'countlab report diff -h' or 'countlab report html -h' for their flags.
`
