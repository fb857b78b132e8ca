package reports

import (
	"fmt"
	"io"
	"strings"
)

// WriteSummary writes the gate's verdict for the run's summary: each
// regression, what was not gated and why, and the flags.
func (c *Comparison) WriteSummary(w io.Writer) {
	gated := 0
	for _, m := range c.Metrics {
		if m.Gated {
			gated++
		}
	}
	fmt.Fprintf(w, "  baseline (%d run(s) vs %d baseline run(s)): ", c.Runs, c.BaselineRuns)
	if len(c.Regressed) == 0 {
		fmt.Fprintf(w, "no regression in %d gated metrics\n", gated)
	} else {
		fmt.Fprintf(w, "%d of %d gated metrics regressed\n", len(c.Regressed), gated)
	}
	for _, m := range c.Regressed {
		fmt.Fprintf(w, "  REGRESSED %s\n", m)
	}
	for _, m := range c.NotGated {
		fmt.Fprintf(w, "    %s\n", m)
	}
	for _, f := range c.Flags {
		fmt.Fprintf(w, "  note: %s\n", f)
	}
}

// baselineMarkdown is report.md's regression-gate section.
func (r *Report) baselineMarkdown(b *strings.Builder) {
	c := r.Baseline
	if c == nil {
		return
	}
	fmt.Fprintf(b, "\n## Baseline (%d run(s) vs %d baseline run(s): %s)\n\n", c.Runs, c.BaselineRuns, c.File)
	b.WriteString("| metric | baseline | now | change | minimum effect | baseline spread | p | verdict |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, m := range c.Metrics {
		v := "ok"
		switch {
		case m.Regressed:
			v = "**REGRESSED**"
		case !m.Gated:
			v = m.NotGated
		}
		fmt.Fprintf(b, "| %s | %s | %s | %+.1f%% | %.0f%% and %s | %s | %.2g | %s |\n", m.Name, num(m.Baseline), num(m.Value), 100*m.Change,
			100*m.Tolerance, num(m.MinAbs), num(m.Spread), m.P, v)
	}
	for _, f := range c.Flags {
		fmt.Fprintf(b, "\nNote: %s.\n", f)
	}
}

// probesMarkdown is report.md's abort, steady-state and fault-phase
// sections.
func (r *Report) probesMarkdown(b *strings.Builder) {
	if a := r.Aborted; a != nil {
		fmt.Fprintf(b, "\n## Aborted\n\nAt %.1fs (%s): %s.\n", a.AtS, a.Condition, a.Reason)
	}
	if ss := r.SteadyState; ss != nil {
		verdict := "held"
		if !ss.Pass {
			verdict = "**FAILED**: no fault was injected"
		}
		fmt.Fprintf(b, "\n## Steady state before the first fault\n\n%s to %s: %s.\n\n| check | bound | worst second | verdict |\n|---|---:|---:|---|\n",
			ss.From.Format("15:04:05"), ss.To.Format("15:04:05"), verdict)
		for _, c := range ss.Checks {
			v := "pass"
			if !c.Pass {
				v = "**FAIL**"
			}
			fmt.Fprintf(b, "| %s | %s %s | %s | %s |\n", c.Name, map[string]string{"max": "<=", "min": ">="}[c.Kind], num(c.Threshold), num(c.Value), v)
		}
		if ss.Note != "" {
			fmt.Fprintf(b, "\n%s.\n", ss.Note)
		}
	}
	if len(r.FaultPhases) == 0 {
		return
	}
	b.WriteString("\n## Fault phases\n\nEach probe's worst second before the fault (the steady-state window), during it and after the heal, beside the recovery time.\n\n")
	b.WriteString("| fault | recovery (s) | phase | engine lag (records) | ingest errors | ack p99 (ms) | achieved (events/s) | phase SLOs |\n|---|---:|---|---:|---:|---:|---:|---|\n")
	for _, fp := range r.FaultPhases {
		for _, p := range fp.Phases {
			var slo []string
			for _, s := range p.SLO {
				v := "pass"
				if !s.Pass {
					v = "**FAIL**"
				}
				slo = append(slo, fmt.Sprintf("%s: %s %s", s.Name, num(s.Value), v))
			}
			fmt.Fprintf(b, "| %s (%s) | %.1f | %s | %s | %.2f%% | %s | %s | %s |\n", fp.Fault, fp.Kind, fp.RecoveryS, p.Phase,
				num(p.Worst[ProbeEngineLag]), 100*p.Worst[ProbeIngestErrorShare], num(p.Worst[ProbeIngestAckP99]), num(p.Worst[ProbeAchieved]), strings.Join(slo, "; "))
		}
	}
}
