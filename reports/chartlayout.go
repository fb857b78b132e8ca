package reports

import (
	"bytes"
	"image/color"
	"math"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// timeTicks are the time axis ticks of a chart: a step chosen by the
// span (every second up to every day) so that 3 to 7 labelled ticks fall
// on round times, with unlabelled ticks between; labels are UTC wall-clock
// times, with seconds when the step is under a minute.
type timeTicks struct{}

// tickSteps are the candidate label steps, in seconds.
var tickSteps = []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400}

// maxTimeLabels is the most labelled ticks on a time axis.
const maxTimeLabels = 7

// Ticks implements plot.Ticker over unix seconds.
func (timeTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: tickLabel(lo, 1)}}
	}
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if (hi-lo)/s <= maxTimeLabels {
			step = s
			break
		}
	}
	minor := step / 2
	if step >= 10 && int(step)%5 == 0 {
		minor = step / 5
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/minor) * minor; v <= hi+1e-9; v += minor {
		t := plot.Tick{Value: v}
		if r := math.Mod(v, step); r < 1e-6 || step-r < 1e-6 {
			t.Label = tickLabel(v, step)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

func tickLabel(v, step float64) string {
	t := time.Unix(0, int64(v*1e9)).UTC()
	if step < 60 {
		return t.Format("15:04:05")
	}
	return t.Format("15:04")
}

// legendEntry is one line of a legend drawn below a chart.
type legendEntry struct {
	name   string
	thumbs []plot.Thumbnailer // drawn over each other (a line and its points)
}

// entry is a legend line for name drawn as thumbs.
func entry(name string, thumbs ...plot.Thumbnailer) legendEntry { return legendEntry{name, thumbs} }

// Legend layout below the plot area.
const (
	legendThumbW = 0.3 * vg.Inch
	legendGap    = 0.06 * vg.Inch // thumbnail to text
	legendSpace  = 0.22 * vg.Inch // between entries
	legendMargin = 0.12 * vg.Inch // left, and above the first row
)

// renderWithLegend is renderPNG with entries laid out left to right in
// rows below the plot area (wrapping at the chart's width), so that no
// legend hides data; the canvas grows by the legend's height.
func renderWithLegend(pl *plot.Plot, entries []legendEntry, w vg.Length) ([]byte, error) {
	if len(entries) == 0 {
		return renderPNG(pl, w)
	}
	sty := pl.Legend.TextStyle
	rowH := sty.Height("Mg") * 1.35
	// Place the entries: x offset and row of each.
	type place struct {
		x   vg.Length
		row int
	}
	places := make([]place, len(entries))
	x, row := legendMargin, 0
	for i, e := range entries {
		ew := legendThumbW + legendGap + sty.Width(e.name)
		if x > legendMargin && x+ew > w-legendMargin {
			x, row = legendMargin, row+1
		}
		places[i] = place{x, row}
		x += ew + legendSpace
	}
	legendH := vg.Length(row+1)*rowH + legendMargin
	c := vgimg.NewWith(vgimg.UseWH(w, chartH+legendH), vgimg.UseDPI(chartDPI), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(c)
	pl.Draw(draw.Crop(dc, 0, 0, legendH, 0))
	for i, e := range entries {
		p := places[i]
		y := dc.Min.Y + legendH - legendMargin - vg.Length(p.row+1)*rowH
		icon := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: dc.Min.X + p.x, Y: y},
			Max: vg.Point{X: dc.Min.X + p.x + legendThumbW, Y: y + rowH},
		}}
		for _, th := range e.thumbs {
			th.Thumbnail(&icon)
		}
		ts := sty
		ts.XAlign, ts.YAlign = draw.XLeft, draw.YCenter
		dc.FillText(ts, vg.Point{X: icon.Max.X + legendGap, Y: y + rowH/2}, e.name)
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// plainTicks are gonum's default value ticks labelled without padding
// zeros ("500", "2.5", "1.2M" rather than "500.00").
type plainTicks struct{}

// Ticks implements plot.Ticker.
func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = plainNum(ticks[i].Value)
		}
	}
	return ticks
}

// plainNum is v in the fewest characters that keep 3 significant digits.
func plainNum(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return strconv.FormatFloat(v/1e9, 'f', -1, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64)
}

// segments splits pts (in time order) where two samples are more than
// three times the median interval apart: the series was not sampled
// there (a process down), and a line should not pretend it was.
func segments(pts []Point) [][]Point {
	if len(pts) < 3 {
		return [][]Point{pts}
	}
	gaps := make([]time.Duration, 0, len(pts)-1)
	for i := 1; i < len(pts); i++ {
		gaps = append(gaps, pts[i].T.Sub(pts[i-1].T))
	}
	sorted := slices.Clone(gaps)
	slices.Sort(sorted)
	limit := 3 * sorted[len(sorted)/2]
	var out [][]Point
	start := 0
	for i, g := range gaps {
		if limit > 0 && g > limit {
			out = append(out, pts[start:i+1])
			start = i + 1
		}
	}
	return append(out, pts[start:])
}
