package run

import (
	"time"

	"github.com/countlab/countlab/faults"
	"github.com/countlab/countlab/reports"
)

// faultWindows are the faults' windows, from each injection until it
// recovered (open-ended when it did not).
func faultWindows(recs []faults.Record) []reports.Span {
	out := make([]reports.Span, 0, len(recs))
	for _, r := range recs {
		w := reports.Span{Start: r.InjectedAt, Label: r.Name}
		if r.RecoveryS >= 0 && !r.HealedAt.IsZero() {
			w.End = r.HealedAt.Add(time.Duration(r.RecoveryS * float64(time.Second)))
		}
		out = append(out, w)
	}
	return out
}

// faultRecords are the schedule's records as report.json's faults.
func faultRecords(recs []faults.Record) []any {
	out := make([]any, 0, len(recs))
	ts := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	for _, r := range recs {
		m := map[string]any{"name": r.Name, "kind": r.Kind, "injected_at": ts(r.InjectedAt), "healed_at": ts(r.HealedAt), "heal_s": r.HealS, "recovery_s": r.RecoveryS}
		if r.Error != "" {
			m["error"] = r.Error
		}
		if r.Hits > 0 {
			m["hits"] = r.Hits
		}
		out = append(out, m)
	}
	return out
}

// faultErrors are the report's faults that could not be injected or
// healed.
func faultErrors(rep *reports.Report) []string {
	var out []string
	for _, f := range rep.Faults {
		m, _ := f.(map[string]any)
		if e, _ := m["error"].(string); e != "" {
			out = append(out, "fault "+m["name"].(string)+": "+e)
		}
	}
	return out
}
