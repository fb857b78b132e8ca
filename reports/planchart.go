package reports

import (
	"cmp"
	"errors"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ScalingChart is a PNG chart of max sustainable throughput against
// workers: the measured cells as points and the fitted USL curve, one
// colour per partition count, and the required rate as a dashed line
// (0: none). The curves run to twice the most workers measured (at
// least 4), or to upTo workers when more (at most 64).
func ScalingChart(cells []PlanCell, fits []PlanFit, required float64, upTo int) ([]byte, error) {
	pl := newPlot("Max sustainable throughput vs workers")
	pl.X.Label.Text = "engine workers (processes)"
	pl.Y.Label.Text = "events/s"
	var legend []legendEntry // below the plot (chartlayout.go)
	nmax, ymax := 1.0, 0.0
	for _, c := range cells {
		nmax = math.Max(nmax, float64(c.Workers))
		ymax = math.Max(ymax, c.MaxSustainableEventsPerS)
	}
	// The curve runs past the measured range: to twice the most workers,
	// at least 4.
	xend := math.Max(math.Max(4, 2*nmax), math.Min(float64(upTo), 64))
	for i, f := range fits {
		col := palette[i%len(palette)]
		var pts plotter.XYs
		for _, c := range cells {
			if c.Partitions == f.Partitions && c.MaxSustainableEventsPerS > 0 {
				pts = append(pts, plotter.XY{X: float64(c.Workers), Y: c.MaxSustainableEventsPerS})
			}
		}
		if len(pts) > 0 {
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, err
			}
			sc.Color = col
			sc.GlyphStyle.Radius = vg.Points(4)
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			pl.Add(sc)
			legend = append(legend, entry(fmt.Sprintf("%d partitions (measured)", f.Partitions), sc))
		}
		if f.Fit == nil {
			continue
		}
		const steps = 100
		curve := make(plotter.XYs, 0, steps+1)
		for k := 0; k <= steps; k++ {
			n := 1 + (xend-1)*float64(k)/steps
			y := f.Fit.X(n)
			curve = append(curve, plotter.XY{X: n, Y: y})
			ymax = math.Max(ymax, y)
		}
		l, err := plotter.NewLine(curve)
		if err != nil {
			return nil, err
		}
		l.Color = col
		l.Width = vg.Points(1.5)
		pl.Add(l)
		legend = append(legend, entry(fmt.Sprintf("%d partitions USL (%s)", f.Partitions, f.Fit.Method), l))
	}
	if required > 0 && required < 3*math.Max(ymax, 1) {
		l, err := plotter.NewLine(plotter.XYs{{X: 1, Y: required}, {X: xend, Y: required}})
		if err != nil {
			return nil, err
		}
		l.Color = color.Gray{0x55}
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		pl.Add(l)
		legend = append(legend, entry("target capacity (with headroom)", l))
		ymax = math.Max(ymax, required)
	}
	if ymax == 0 {
		return nil, errors.New("no sustainable rate to chart")
	}
	pl.X.Min, pl.X.Max = 0.8, xend+0.2
	pl.Y.Min, pl.Y.Max = 0, ymax*1.1
	return renderWithLegend(pl, legend, timeW)
}

// KneeChart is a PNG chart of one cell's p99 ingest-ack and freshness
// latency against the offered rate of its trials (log scale), the knee
// (the max sustainable rate) marked.
func KneeChart(c PlanCell) ([]byte, error) {
	pl := newPlot(fmt.Sprintf("p99 latency vs offered load: %d partitions x %d workers", c.Partitions, c.Workers))
	pl.X.Label.Text = "offered events/s"
	pl.Y.Label.Text = "ms (log)"
	pl.Y.Scale = plot.LogScale{}
	pl.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	var legend []legendEntry // below the plot (chartlayout.go)
	trials := slices.Clone(c.Trials)
	slices.SortFunc(trials, func(a, b PlanTrial) int { return cmp.Compare(a.OfferedEventsPerS, b.OfferedEventsPerS) })
	if len(trials) == 0 {
		return nil, errors.New("no trials")
	}
	const floor = 0.1 // ms: log scale
	ymin, ymax := math.Inf(1), 0.0
	xmax := 0.0
	for i, s := range []struct {
		name string
		v    func(PlanTrial) float64
	}{
		{"p99 ingest ack", func(t PlanTrial) float64 { return t.IngestAck.P99 }},
		{"p99 freshness", func(t PlanTrial) float64 { return t.Freshness.P99 }},
	} {
		var xys plotter.XYs
		for _, t := range trials {
			v := s.v(t)
			if v <= 0 {
				continue
			}
			v = math.Max(v, floor)
			xys = append(xys, plotter.XY{X: t.OfferedEventsPerS, Y: v})
			ymin, ymax, xmax = math.Min(ymin, v), math.Max(ymax, v), math.Max(xmax, t.OfferedEventsPerS)
		}
		if len(xys) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		l.Color, sc.Color = palette[i], palette[i]
		l.Width = vg.Points(1.5)
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		sc.GlyphStyle.Radius = vg.Points(2.5)
		pl.Add(l, sc)
		legend = append(legend, entry(s.name, l, sc))
	}
	if ymax == 0 {
		return nil, errors.New("no latency measured")
	}
	ymin, ymax = math.Max(floor, ymin/2), ymax*2
	if k := c.MaxSustainableEventsPerS; k > 0 {
		l, err := plotter.NewLine(plotter.XYs{{X: k, Y: ymin}, {X: k, Y: ymax}})
		if err != nil {
			return nil, err
		}
		l.Color = palette[3]
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		pl.Add(l)
		legend = append(legend, entry(fmt.Sprintf("knee: %s events/s sustainable", num(k)), l))
	}
	pl.X.Min, pl.X.Max = 0, xmax*1.05
	pl.Y.Min, pl.Y.Max = ymin, ymax
	return renderWithLegend(pl, legend, timeW)
}
