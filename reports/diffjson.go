package reports

import "time"

// DiffJSON is `countlab report diff --json`'s output: what the text table
// shows, typed.
type DiffJSON struct {
	Old DiffSide `json:"old"`
	New DiffSide `json:"new"`
	// Pass is false when NEW regressed, failed an SLO or is not exact;
	// Failures says why (the exit code is 1 then).
	Pass     bool              `json:"pass"`
	Failures []string          `json:"failures"`
	Metrics  []Metric          `json:"metrics"`
	Exact    DiffExact         `json:"exact"`
	Accuracy []DiffAccuracyRow `json:"accuracy"`
	SLO      []DiffSLORow      `json:"slo"`
}

// DiffSide is one of the two reports: where it is, its scenario and start.
type DiffSide struct {
	Path      string    `json:"path"`
	Scenario  string    `json:"scenario"`
	StartedAt time.Time `json:"started_at"`
}

// DiffExact is whether the old and the new run counted exactly.
type DiffExact struct {
	Old bool `json:"old"`
	New bool `json:"new"`
}

// DiffAccuracyRow is one accuracy count of both reports.
type DiffAccuracyRow struct {
	Name string  `json:"name"`
	Old  float64 `json:"old"`
	New  float64 `json:"new"`
	// Bad is set when NEW's value is not acceptable (lost > 0, say).
	Bad bool `json:"bad"`
}

// DiffSLORow is one SLO of both reports (nil where a report lacks it).
type DiffSLORow struct {
	Name string     `json:"name"`
	Old  *SLOResult `json:"old"`
	New  *SLOResult `json:"new"`
	// Regression is set when OLD passed and NEW fails.
	Regression bool `json:"regression"`
}

// JSON is d typed, as countlab report diff --json prints it.
func (d *Diff) JSON(oldPath, newPath string) DiffJSON {
	out := DiffJSON{
		Old:      DiffSide{oldPath, d.old.Scenario, d.old.StartedAt},
		New:      DiffSide{newPath, d.cur.Scenario, d.cur.StartedAt},
		Failures: d.Failures(),
		Metrics:  d.cmp.Metrics,
		Exact:    DiffExact{d.exact[0], d.exact[1]},
	}
	out.Pass = len(out.Failures) == 0
	if out.Failures == nil {
		out.Failures = []string{}
	}
	for _, a := range d.accuracy {
		out.Accuracy = append(out.Accuracy, DiffAccuracyRow{a.name, a.old, a.cur, a.worse})
	}
	for _, s := range d.slo {
		out.SLO = append(out.SLO, DiffSLORow{s.name, s.old, s.cur, s.regression})
	}
	return out
}
