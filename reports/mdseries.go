package reports

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// mdSeriesRows is the most rows of report.md's over-time table: the
// series are resampled to that many intervals.
const mdSeriesRows = 12

// mdColumn is one column of the over-time table.
type mdColumn struct {
	name string
	mean bool // the mean over the interval; else its largest value
	pts  []Point
}

// writeSeries is report.md's over-time section: offered, achieved (and,
// when any were, refused) events a second, the p99 of each latency and the engine's total
// consumer lag, per interval of the run (the interval's mean rate, its
// worst p99, its largest lag), then the events per partition.
func writeSeries(b *strings.Builder, ts *TimeSeries) {
	if ts == nil || len(ts.Offered)+len(ts.Achieved) == 0 {
		return
	}
	t0, t1 := seriesSpan(ts)
	if !t1.After(t0) {
		return
	}
	step := t1.Sub(t0) / mdSeriesRows
	bucket := func(t time.Time) int { return min(int(t.Sub(t0)/step), mdSeriesRows-1) }
	type cell struct {
		sum  float64
		n    int
		peak float64
	}
	cols := []mdColumn{{"offered ev/s", true, ts.Offered}, {"achieved ev/s", true, ts.Achieved}}
	if slices.ContainsFunc(ts.Refused, func(p Point) bool { return p.V > 0 }) {
		cols = append(cols, mdColumn{"refused ev/s", true, ts.Refused})
	}
	if slices.ContainsFunc(ts.Throttled, func(p Point) bool { return p.V > 0 }) {
		cols = append(cols, mdColumn{"throttled ev/s", true, ts.Throttled})
	}
	for _, l := range ts.Latency {
		for _, p := range l.Percentiles {
			switch {
			case p.Name == "p99":
				cols = append(cols, mdColumn{l.Kind + " p99 ms", false, p.Points})
			case l.Kind == "freshness":
				cols = append(cols, mdColumn{"freshness max ms", false, p.Points})
			}
		}
	}
	if lag := lagSummary(ts.Lag); len(ts.Lag) > 0 {
		cols = append(cols, mdColumn{"engine lag (records)", false, lag[0].Points})
	}
	grid := make([][mdSeriesRows]cell, len(cols))
	for c, col := range cols {
		for _, p := range col.pts {
			if p.T.Before(t0) {
				continue
			}
			g := &grid[c][bucket(p.T)]
			g.sum += p.V
			g.n++
			g.peak = max(g.peak, p.V)
		}
	}
	b.WriteString("\n## Over time\n\n| from (s) |")
	for _, col := range cols {
		fmt.Fprintf(b, " %s |", col.name)
	}
	b.WriteString("\n|---:|" + strings.Repeat("---:|", len(cols)) + "\n")
	for i := range mdSeriesRows {
		fmt.Fprintf(b, "| %.1f |", (time.Duration(i) * step).Seconds())
		for c, col := range cols {
			g := grid[c][i]
			switch {
			case g.n == 0:
				b.WriteString(" – |")
			case col.mean:
				fmt.Fprintf(b, " %s |", num(g.sum/float64(g.n)))
			default:
				fmt.Fprintf(b, " %s |", num(g.peak))
			}
		}
		b.WriteString("\n")
	}
	if len(ts.PartitionLoad) > 0 {
		fmt.Fprintf(b, "\nEvents per partition of the events topic (largest / mean = %.2f):", LoadSkew(ts.PartitionLoad))
		for _, l := range ts.PartitionLoad {
			fmt.Fprintf(b, " %d: %d;", l.Partition, l.Records)
		}
		b.WriteString("\n")
	}
}

// seriesSpan is the first and last sample time of the throughput series.
func seriesSpan(ts *TimeSeries) (t0, t1 time.Time) {
	for _, pts := range [][]Point{ts.Offered, ts.Achieved} {
		for _, p := range pts {
			if t0.IsZero() || p.T.Before(t0) {
				t0 = p.T
			}
			if p.T.After(t1) {
				t1 = p.T
			}
		}
	}
	return t0, t1
}
