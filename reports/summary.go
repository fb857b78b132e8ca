package reports

import (
	"fmt"
	"io"
)

// WriteSummary writes the human summary of r to w, verdict first;
// path is where report.json is.
func (r *Report) WriteSummary(w io.Writer, path string) {
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\nverdict: %s (%s)\n", verdict, r.Scenario)
	for _, s := range r.SLO {
		mark := "ok  "
		if !s.Pass {
			mark = "FAIL"
		}
		rel := ">="
		if s.Kind == "max" {
			rel = "<="
		}
		if s.Kind == "exact" {
			fmt.Fprintf(w, "  [%s] %-28s exact=%v\n", mark, s.Name, s.Pass)
			continue
		}
		fmt.Fprintf(w, "  [%s] %-28s %10.1f (%s %g)\n", mark, s.Name, s.Value, rel, s.Threshold)
	}
	a := r.Accuracy
	late := fmt.Sprintf("late, not expected: %d", a.LateEvents)
	if a.IncludesLate {
		late = fmt.Sprintf("including %d late events, after the reconcile", a.LateEvents)
	}
	fmt.Fprintf(w, "  accuracy: %d windows, %d mismatched, %d unexpected keys; expected %d events, counted %d, lost %d, duplicated %d (%s)\n",
		a.WindowsChecked, a.MismatchedWindows, a.UnexpectedKeys, a.ExpectedEvents, a.CountedEvents, a.Lost, a.Duplicated, late)
	a.WriteSources(w, "    ")
	for i, d := range a.WorstWindows {
		if i == 5 {
			break
		}
		fmt.Fprintf(w, "    bad window: %s\n", d)
	}
	l := r.Latency
	fmt.Fprintf(w, "  latency p50/p99 ms: ingest ack %.1f/%.1f, freshness %.1f/%.1f, query %.1f/%.1f\n",
		l.IngestAck.P50, l.IngestAck.P99, l.Freshness.P50, l.Freshness.P99, l.Query.P50, l.Query.P99)
	fmt.Fprintf(w, "  throughput: offered %.0f events/s, achieved %.0f events/s\n", r.Throughput.OfferedEventsPerS, r.Throughput.AchievedEventsPerS)
	if r.Saturation != nil && r.Saturation.Sustainable != nil {
		fmt.Fprintf(w, "  ceiling: %s\n", r.Saturation.Sustainable.CeilingText())
	}
	if lag := r.Traffic.MaxLagMS; lag > 1000 {
		fmt.Fprintf(w, "  the sender fell behind its schedule by up to %.1fs (every connection busy): latencies count the wait\n", lag/1000)
	}
	if rc := r.Accuracy.Reconcile; rc != nil {
		fmt.Fprintf(w, "  before reconcile (late events not counted): exact=%v, %d windows off; reconcile recounted %d events, rewrote %d windows\n",
			rc.OnTimeExact, rc.OnTimeMismatched, rc.EventsRecounted, rc.WindowsRewritten)
	}
	if c := r.Baseline; c != nil {
		c.WriteSummary(w) // gatemd.go
	}
	fmt.Fprintf(w, "  report: %s\n", path)
}
