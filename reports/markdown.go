package reports

import (
	"fmt"
	"strings"
	"time"
)

// Markdown is report.md: the verdict first, then the SLO table, accuracy,
// latency, throughput and, with a baseline, the comparison.
func (r *Report) Markdown() string {
	var b strings.Builder
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "# countlab run: %s — %s\n\n", r.Scenario, verdict)
	fmt.Fprintf(&b, "Started %s, traffic for %.1fs.\n\n", r.StartedAt.UTC().Format(time.RFC3339), r.DurationS)
	if !r.Pass {
		b.WriteString("Failed:\n\n")
		if a := r.Aborted; a != nil {
			fmt.Fprintf(&b, "- aborted at %.1fs (%s): %s\n", a.AtS, a.Condition, a.Reason)
		}
		for _, f := range r.Failed() {
			fmt.Fprintf(&b, "- SLO %s\n", f)
		}
		if r.Baseline != nil {
			for _, m := range r.Baseline.Regressed {
				fmt.Fprintf(&b, "- regression %s\n", m)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("## SLOs\n\n| SLO | threshold | value | verdict |\n|---|---:|---:|---|\n")
	for _, s := range r.SLO {
		v := "pass"
		if !s.Pass {
			v = "**FAIL**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", s.Name, num(s.Threshold), num(s.Value), v)
	}
	a := r.Accuracy
	fmt.Fprintf(&b, "\n## Accuracy\n\n")
	if r.Shards > 0 && a.WindowsChecked == 0 && !a.Exact {
		b.WriteString("Not checked in this report: a sharded generator's truth is checked with `countlab check --truth` of every shard (`report merge --check` adds that check here).\n\n")
	} else if a.Exact {
		fmt.Fprintf(&b, "Exact: every one of %d windows equals the truth (count and sum), as served and as stored; no entry point disagreed with the contract.\n\n", a.WindowsChecked)
	} else {
		fmt.Fprintf(&b, "**Not exact**: up to %d of %d windows differ from the truth (%d of them keys the truth never had); %d contract mismatches.\n\n",
			a.MismatchedWindows, a.WindowsChecked, a.UnexpectedKeys, a.ContractMismatches)
	}
	lateCol := "late (not expected)"
	if a.IncludesLate {
		lateCol = "late (expected, after reconcile)"
	}
	fmt.Fprintf(&b, "| expected events | counted | lost | duplicated | %s |\n|---:|---:|---:|---:|---:|\n| %d | %d | %d | %d | %d |\n",
		lateCol, a.ExpectedEvents, a.CountedEvents, a.Lost, a.Duplicated, a.LateEvents)
	b.WriteString("\n| checked | windows checked | mismatched | unexpected | counted | lost | duplicated | exact |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, s := range a.Sources() {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %v |\n", s.Name, s.WindowsChecked, s.MismatchedWindows, s.UnexpectedWindows,
			s.CountedEvents, s.Lost, s.Duplicated, s.Exact)
	}
	fmt.Fprintf(&b, "| contract (entry points vs oracle) | | %d events | | | | | %v |\n", a.ContractMismatches, a.ContractMismatches == 0)
	for _, c := range a.Attributes { // attrcheck.go
		fmt.Fprintf(&b, "| per %s, query service (attribute roll-up) | %d | %d | %d | | | | %v |\n", c.Attr, c.WindowsChecked, c.Query.Mismatched, c.Query.Unexpected, c.Query.Exact)
		fmt.Fprintf(&b, "| per %s, InfluxDB (attribute roll-up) | %d | %d | %d | | | | %v |\n", c.Attr, c.WindowsChecked, c.Store.Mismatched, c.Store.Unexpected, c.Store.Exact)
	}
	for _, m := range a.ContractMismatchExamples {
		fmt.Fprintf(&b, "\n- contract mismatch %s: key %q id %q, want %q, got %q", m.Kind, m.Key, m.ID, m.Want, m.Got)
	}
	if len(a.ContractMismatchExamples) > 0 {
		b.WriteString("\n")
	}
	if rc := a.Reconcile; rc != nil {
		fmt.Fprintf(&b, "\nLate events were sent. Before the reconcile (late events not counted, as the late policy says): exact=%v, %d windows off. The reconcile recounted %d distinct events from Kafka and rewrote %d windows in %.1fs; the check above expects the late events too.\n",
			rc.OnTimeExact, rc.OnTimeMismatched, rc.EventsRecounted, rc.WindowsRewritten, rc.DurationS)
	}
	if len(a.WorstWindows) > 0 {
		b.WriteString("\nWorst windows:\n\n| source | window | start | type | key | dims | count (want) | sum (want) |\n|---|---|---|---|---|---|---:|---:|\n")
		for _, w := range a.WorstWindows {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d (%d) | %g (%g) |\n", w.Source, w.Window, w.Start.UTC().Format(time.RFC3339), w.Type, w.Key, w.DimSet,
				w.GotCount, w.WantCount, w.GotSum, w.WantSum)
		}
	}
	b.WriteString("\n## Latency (ms, from the intended send time)\n\n| latency | p50 | p90 | p99 | p99.9 | max | samples |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range []struct {
		name string
		p    Percentiles
	}{{"ingest ack", r.Latency.IngestAck}, {"freshness (sent → visible)", r.Latency.Freshness}, {"query", r.Latency.Query}} {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d |\n", l.name, num(l.p.P50), num(l.p.P90), num(l.p.P99), num(l.p.P999), num(l.p.Max), l.p.Count)
	}
	writeFaults(&b, r.Faults)
	r.probesMarkdown(&b) // gatemd.go: abort, steady state, fault phases
	t := r.Traffic
	fmt.Fprintf(&b, "\n## Throughput\n\nOffered %.0f events/s, achieved %.0f events/s (acknowledged). Generated %d, acknowledged %d (%d duplicates), rejected %d, failed %d, throttled (429) %d, re-sent %d; sender lag at most %.0f ms.\n",
		r.Throughput.OfferedEventsPerS, r.Throughput.AchievedEventsPerS, t.Generated, t.Acked, t.Duplicates, t.Rejected, t.Failed, t.Throttled, t.Resent, t.MaxLagMS)
	r.saturationMarkdown(&b)
	r.resourcesMarkdown(&b)
	r.cpuMarkdown(&b)
	writeSeries(&b, r.Series)
	r.baselineMarkdown(&b)   // gatemd.go
	r.provenanceMarkdown(&b) // provenance.go
	return b.String()
}

// writeFaults is the faults section: one row per fault record.
func writeFaults(b *strings.Builder, faults []FaultRecord) {
	if len(faults) == 0 {
		return
	}
	b.WriteString("\n## Faults\n\n| fault | kind | injected at | healed at | heal took (s) | recovery (s) | error |\n|---|---|---|---|---:|---:|---|\n")
	esc := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	at := func(p *time.Time) string {
		if p == nil {
			return ""
		}
		return p.UTC().Format(time.RFC3339Nano)
	}
	for _, f := range faults {
		rec := "not recovered"
		if f.RecoveryS >= 0 {
			rec = fmt.Sprintf("%.1f", f.RecoveryS)
		}
		heal := ""
		if f.HealedAt != nil {
			heal = fmt.Sprintf("%.1f", f.HealS)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", esc(f.Name), esc(f.Kind), at(f.InjectedAt), at(f.HealedAt), heal, rec, esc(f.Error))
	}
}

func num(v float64) string {
	switch {
	case v == float64(int64(v)) && v < 1e15 && v > -1e15:
		return fmt.Sprintf("%d", int64(v))
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
