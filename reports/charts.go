package reports

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Point is one sample of a time series.
type Point struct {
	T time.Time `json:"t"`
	V float64   `json:"v"`
}

// Series is a named time series.
type Series struct {
	Name   string  `json:"name"`
	Points []Point `json:"points"`
}

// LatencySeries is the percentiles over time of one latency kind
// ("ingest_ack", "freshness", "query"), in milliseconds: one Series per
// percentile, named "p50", "p99", ...
type LatencySeries struct {
	Kind        string   `json:"kind"`
	Percentiles []Series `json:"percentiles"`
}

// TimeSeries is what a run measured over time, for the charts of the
// HTML report.
type TimeSeries struct {
	// Offered and Achieved are events a second, intended and acknowledged.
	Offered  []Point `json:"offered_events_per_s,omitempty"`
	Achieved []Point `json:"achieved_events_per_s,omitempty"`
	// Refused is events a second the entry point refused by the contract
	// (a 4xx naming the reason, not sent again), at the same seconds as
	// Achieved: the two together are what was answered.
	Refused []Point `json:"refused_events_per_s,omitempty"`
	// Throttled is events a second the entry point pushed back for
	// overload (the gateway's 429/503, sent again later), at the same
	// seconds: a window with them did not take its offered load.
	Throttled []Point         `json:"throttled_events_per_s,omitempty"`
	Latency   []LatencySeries `json:"latency,omitempty"`
	// Lag is the engine's consumer lag (records) on the events topic: one
	// Series a partition, named for it.
	Lag []Series `json:"consumer_lag,omitempty"`
	// PartitionLoad is the records produced to each partition of the
	// events topic while the run was sampled: the hot-key skew as the
	// engine sees it.
	PartitionLoad []PartitionLoad `json:"partition_load,omitempty"`
	// RSS is each process's resident memory (MiB) and Goroutines its
	// goroutines over time: one Series a process, named for it.
	RSS        []Series `json:"rss_mib,omitempty"`
	Goroutines []Series `json:"goroutines,omitempty"`
}

// PartitionLoad is the records one partition of the events topic took.
type PartitionLoad struct {
	Partition int32 `json:"partition"`
	Records   int64 `json:"records"`
}

// LoadSkew is the largest partition's records over the mean (1 = even);
// 0 without records.
func LoadSkew(load []PartitionLoad) float64 {
	var sum, top int64
	for _, l := range load {
		sum += l.Records
		top = max(top, l.Records)
	}
	if sum == 0 {
		return 0
	}
	return float64(top) * float64(len(load)) / float64(sum)
}

// Span is an interval shaded on the time axis of a chart: a fault.
type Span struct {
	Start, End time.Time
	Label      string
}

// Chart sizes at 96 dpi: the HTML lays two side by side.
const (
	timeW    = 5.6 * vg.Inch
	barW     = 3.7 * vg.Inch
	chartH   = 2.8 * vg.Inch
	chartDPI = 96
)

var (
	palette = []color.Color{
		color.RGBA{0x1f, 0x77, 0xb4, 0xff}, // blue
		color.RGBA{0xff, 0x7f, 0x0e, 0xff}, // orange
		color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, // green
		color.RGBA{0xd6, 0x27, 0x28, 0xff}, // red
		color.RGBA{0x94, 0x67, 0xbd, 0xff}, // purple
		color.RGBA{0x8c, 0x56, 0x4b, 0xff}, // brown
		color.RGBA{0xe3, 0x77, 0xc2, 0xff}, // pink
		color.RGBA{0x7f, 0x7f, 0x7f, 0xff}, // grey
	}
	faultShade = color.NRGBA{0xd6, 0x27, 0x28, 0x38}
)

// LatencyBarChart is a PNG bar chart of one latency's percentiles (ms).
func LatencyBarChart(title string, p Percentiles) ([]byte, error) {
	pl := newPlot(title)
	pl.Y.Label.Text = "ms"
	vals := plotter.Values{p.P50, p.P90, p.P99, p.P999, p.Max}
	bars, err := plotter.NewBarChart(vals, vg.Points(40))
	if err != nil {
		return nil, err
	}
	bars.Color = palette[0]
	bars.LineStyle.Width = 0
	pl.Add(bars)
	pl.NominalX("p50", "p90", "p99", "p99.9", "max")
	pl.Y.Min, pl.Y.Max = 0, 1.15*max(p.Max, p.P999, p.P99, p.P90, p.P50, 0.001)
	labels, err := barLabels(vals)
	if err != nil {
		return nil, err
	}
	pl.Add(labels)
	return renderPNG(pl, barW)
}

// barLabels writes each bar's value above it.
func barLabels(vals plotter.Values) (*plotter.Labels, error) {
	xys := make(plotter.XYs, len(vals))
	txt := make([]string, len(vals))
	style := textStyle(draw.XCenter, draw.YBottom)
	for i, v := range vals {
		xys[i] = plotter.XY{X: float64(i), Y: v}
		txt[i] = num(v)
	}
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: txt})
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		l.TextStyle[i] = style
	}
	return l, nil
}

// PartitionLoadChart is a PNG bar chart of the records each partition of
// the events topic took, its skew (largest over mean) in the title.
func PartitionLoadChart(load []PartitionLoad) ([]byte, error) {
	if len(load) == 0 {
		return nil, errors.New("no partitions")
	}
	pl := newPlot(fmt.Sprintf("Events per partition (largest / mean = %.2f)", LoadSkew(load)))
	pl.Y.Label.Text = "records"
	vals := make(plotter.Values, len(load))
	names := make([]string, len(load))
	for i, l := range load {
		vals[i], names[i] = float64(l.Records), strconv.Itoa(int(l.Partition))
	}
	w := min(vg.Points(40), (barW-vg.Inch)/vg.Length(len(load))*0.8)
	bars, err := plotter.NewBarChart(vals, w)
	if err != nil {
		return nil, err
	}
	bars.Color = palette[0]
	bars.LineStyle.Width = 0
	pl.Add(bars)
	pl.NominalX(names...)
	pl.X.Label.Text = "partition"
	pl.Y.Min = 0
	return renderPNG(pl, barW)
}

// ThroughputChart is a PNG line chart of offered and achieved events a
// second over time, faults shaded.
func ThroughputChart(offered, achieved []Point, faults []Span) ([]byte, error) {
	return TimeChart("Throughput (events/s)", "events/s", []Series{{Name: "offered", Points: offered}, {Name: "achieved", Points: achieved}}, faults)
}

// maxLagLines is the most partitions LagChart draws one line each for;
// beyond, it draws their total and the largest.
const maxLagLines = 5

// LagChart is a PNG line chart of consumer lag over time, one line a
// partition (or, for many partitions, the total and the largest), faults
// shaded.
func LagChart(lag []Series, faults []Span) ([]byte, error) {
	if len(lag) > maxLagLines {
		lag = lagSummary(lag)
	}
	return TimeChart("Engine consumer lag (records)", "records", lag, faults)
}

// lagSummary is the sum and the maximum over the partitions' series at
// each sample time.
func lagSummary(lag []Series) []Series {
	type agg struct{ sum, max float64 }
	at := map[time.Time]*agg{}
	var times []time.Time
	for _, s := range lag {
		for _, p := range s.Points {
			a, ok := at[p.T]
			if !ok {
				a = &agg{}
				at[p.T] = a
				times = append(times, p.T)
			}
			a.sum += p.V
			a.max = max(a.max, p.V)
		}
	}
	slices.SortFunc(times, time.Time.Compare)
	total, top := Series{Name: "total"}, Series{Name: "largest partition"}
	for _, t := range times {
		total.Points = append(total.Points, Point{t, at[t].sum})
		top.Points = append(top.Points, Point{t, at[t].max})
	}
	return []Series{total, top}
}

// TimeChart is a PNG line chart of series over time, faults shaded.
func TimeChart(title, unit string, series []Series, faults []Span) ([]byte, error) {
	pl := newPlot(title)
	pl.Y.Label.Text = unit
	pl.X.Tick.Marker = timeTicks{} // chartlayout.go
	pl.X.Label.Text = "time (UTC)"
	var legend []legendEntry // drawn below the plot, off the data
	xmin, xmax, ymax := math.Inf(1), math.Inf(-1), 0.0
	n := 0
	for _, s := range series {
		for _, p := range s.Points {
			x := unixSeconds(p.T)
			xmin, xmax, ymax = math.Min(xmin, x), math.Max(xmax, x), math.Max(ymax, p.V)
			n++
		}
	}
	if n == 0 {
		return nil, errors.New("no points")
	}
	if ymax == 0 {
		ymax = 1
	}
	ymax *= 1.12 // room for the fault labels
	for _, f := range faults {
		a, b := unixSeconds(f.Start), unixSeconds(f.End)
		if f.End.IsZero() || b < a {
			b = xmax
		}
		a, b = math.Max(a, xmin), math.Min(b, xmax)
		if b <= a {
			continue
		}
		poly, err := plotter.NewPolygon(plotter.XYs{{X: a, Y: 0}, {X: b, Y: 0}, {X: b, Y: ymax}, {X: a, Y: ymax}})
		if err != nil {
			return nil, err
		}
		poly.Color = faultShade
		poly.LineStyle.Width = 0
		pl.Add(poly)
		if f.Label != "" {
			lb, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: a, Y: ymax}}, Labels: []string{" " + f.Label}})
			if err != nil {
				return nil, err
			}
			lb.TextStyle[0] = textStyle(draw.XLeft, draw.YTop)
			lb.TextStyle[0].Color = color.RGBA{0xa5, 0x0e, 0x0e, 0xff}
			pl.Add(lb)
		}
	}
	for i, s := range series {
		if len(s.Points) == 0 {
			continue
		}
		// A gap in the samples (a killed process) is a gap in the line,
		// not a straight line across it (chartlayout.go).
		var first *plotter.Line
		for _, seg := range segments(s.Points) {
			xys := make(plotter.XYs, len(seg))
			for j, p := range seg {
				xys[j] = plotter.XY{X: unixSeconds(p.T), Y: p.V}
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, fmt.Errorf("series %s: %w", s.Name, err)
			}
			l.Color = palette[i%len(palette)]
			l.Width = vg.Points(1.5)
			pl.Add(l)
			if first == nil {
				first = l
			}
		}
		legend = append(legend, entry(s.Name, first))
	}
	pl.Y.Min, pl.Y.Max = 0, ymax
	pl.X.Min, pl.X.Max = xmin, xmax
	return renderWithLegend(pl, legend, timeW)
}

func textStyle(x draw.XAlignment, y draw.YAlignment) draw.TextStyle {
	return draw.TextStyle{Color: color.Black, Font: font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(9)},
		XAlign: x, YAlign: y, Handler: plot.DefaultTextHandler}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func newPlot(title string) *plot.Plot {
	pl := plot.New()
	pl.Title.Text = title
	sans := func(f *font.Font, size float64) { f.Variant, f.Size = "Sans", vg.Points(size) }
	sans(&pl.Title.TextStyle.Font, 12)
	for _, a := range []*plot.Axis{&pl.X, &pl.Y} {
		sans(&a.Label.TextStyle.Font, 10)
		sans(&a.Tick.Label.Font, 9)
	}
	sans(&pl.Legend.TextStyle.Font, 10)
	pl.Y.Min = 0
	pl.Y.Tick.Marker = plainTicks{} // chartlayout.go
	grid := plotter.NewGrid()
	grid.Vertical.Width = 0
	grid.Horizontal.Color = color.Gray{0xdd}
	pl.Add(grid)
	return pl
}

func renderPNG(pl *plot.Plot, w vg.Length) ([]byte, error) {
	c := vgimg.NewWith(vgimg.UseWH(w, chartH), vgimg.UseDPI(chartDPI), vgimg.UseBackgroundColor(color.White))
	pl.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
