package reports

import (
	"errors"
	"math"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// CPUByRateChart is a PNG chart of the cores of each stage against the
// offered rate: a bar a bin of offered rate (CPU.ByRate, labelled with its
// offered events a second), stacked by stage in StageOrder.
func CPUByRateChart(steps []CPUStep) ([]byte, error) {
	if len(steps) == 0 {
		return nil, errors.New("no steps")
	}
	pl := newPlot("CPU by stage against the offered rate")
	pl.Y.Label.Text = "cores"
	pl.X.Label.Text = "offered events/s"
	w := min(vg.Points(28), (timeW-vg.Inch)/vg.Length(len(steps))*0.8)
	var below *plotter.BarChart
	var legend []legendEntry
	top := 0.0
	for _, s := range steps {
		top = max(top, s.Cores)
	}
	for i, stage := range stepStages(steps) {
		vals := make(plotter.Values, len(steps))
		for j := range steps {
			vals[j] = steps[j].Stage(stage)
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		bars.Color = palette[i%len(palette)]
		bars.LineStyle.Width = 0
		if below != nil {
			bars.StackOn(below)
		}
		pl.Add(bars)
		legend = append(legend, entry(stage, bars))
		below = bars
	}
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = plainNum(roundRate(s.OfferedEventsPerS))
	}
	pl.NominalX(names...)
	pl.Y.Min, pl.Y.Max = 0, 1.1*max(top, 0.01)
	return renderWithLegend(pl, legend, timeW)
}

// roundRate is a rate rounded for a label: to the thousand from 10,000,
// else to the hundred.
func roundRate(v float64) float64 {
	if v >= 1e4 {
		return math.Round(v/1000) * 1000
	}
	return math.Round(v/100) * 100
}
