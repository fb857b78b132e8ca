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
func faultRecords(recs []faults.Record) []reports.FaultRecord {
	out := make([]reports.FaultRecord, 0, len(recs))
	for _, r := range recs {
		out = append(out, reports.FaultRecord{Name: r.Name, Kind: r.Kind, InjectedAt: reports.TimeOf(r.InjectedAt), HealedAt: reports.TimeOf(r.HealedAt),
			HealS: r.HealS, RecoveryS: r.RecoveryS, Error: r.Error, Hits: int64(r.Hits)})
	}
	return out
}
