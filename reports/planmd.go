package reports

import (
	"fmt"
	"strings"
)

// Markdown is plan.md: the recommendation, the fits, the cells and every
// trial.
func (r *PlanReport) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# countlab plan: %s\n\n", r.Plan)
	fmt.Fprintf(&b, "Started %s, took %.0f s on %d CPUs (load average %.2f at the start, %.2f at the end). Exact: %v.\n\n",
		r.StartedAt.UTC().Format("2006-01-02 15:04:05 MST"), r.DurationS, r.Host.CPUs, r.Host.LoadAvgStart, r.Host.LoadAvgEnd, r.Exact)
	b.WriteString("## Recommendation\n\n")
	for _, l := range r.Recommendation.Lines {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	b.WriteString("\n## Scalability model (USL per partition count)\n\n")
	b.WriteString("X(N) = lambda*N / (1 + sigma*(N-1) + kappa*N*(N-1)); N* = sqrt((1-sigma)/kappa).\n\n")
	planTable(&b, []string{"partitions", "method", "lambda (events/s)", "sigma", "kappa", "R²", "N*", "curve max", "note"}, fitRows(r.Fits))
	b.WriteString("\n## Cells\n\n")
	planTable(&b, []string{"partitions", "workers", "max sustainable (events/s)", "first not sustainable", "trials", "exact", "seconds"}, cellRows(r.Cells))
	for _, c := range r.Cells {
		if c.Error != "" {
			fmt.Fprintf(&b, "\n%d partitions x %d workers: error: %s\n", c.Partitions, c.Workers, c.Error)
		}
	}
	b.WriteString("\n## Trials\n\n")
	var rows [][]string
	for _, c := range r.Cells {
		for i, t := range c.Trials {
			rows = append(rows, trialCols(c, i, t))
		}
	}
	planTable(&b, []string{"cell", "#", "phase", "offered", "achieved", "lag slope /s", "lag max", "p99 ack ms", "p99 fresh ms", "drain s", "verdict"}, rows)
	r.cpuMarkdown(&b) // cpuplan.go
	return b.String()
}

// planTable writes a Markdown table ('|' in cells escaped).
func planTable(b *strings.Builder, head []string, rows [][]string) {
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	fmt.Fprintf(b, "| %s |\n|", strings.Join(head, " | "))
	for range head {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, r := range rows {
		cs := make([]string, len(r))
		for i, c := range r {
			cs[i] = esc(c)
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(cs, " | "))
	}
}
