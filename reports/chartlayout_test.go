package reports

import (
	"bytes"
	"image/png"
	"testing"
	"time"
)

// TestTimeTicks: 3 to 7 labelled ticks on round times for any run length.
func TestTimeTicks(t *testing.T) {
	start := float64(time.Date(2026, 1, 1, 12, 0, 3, 0, time.UTC).Unix())
	for _, span := range []time.Duration{10 * time.Second, 30 * time.Second, 2 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour} {
		var labels []string
		for _, tk := range (timeTicks{}).Ticks(start, start+span.Seconds()) {
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		if len(labels) < 3 || len(labels) > maxTimeLabels {
			t.Errorf("%s: labels %v", span, labels)
		}
	}
	var labels []string
	for _, tk := range (timeTicks{}).Ticks(start, start+30) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if labels[0] != "12:00:05" || labels[1] != "12:00:10" {
		t.Errorf("30 s: %v, want every 5 s from 12:00:05", labels)
	}
}

// TestTimeChartLegendBelow: the legend is drawn below the plot area (the
// image is taller than a chart without one), not over the data.
func TestTimeChartLegendBelow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var a, b []Point
	for i := range 30 {
		a = append(a, Point{t0.Add(time.Duration(i) * time.Second), 100})
		b = append(b, Point{t0.Add(time.Duration(i) * time.Second), 90})
	}
	withLegend, err := TimeChart("t", "events/s", []Series{{Name: "offered", Points: a}, {Name: "achieved", Points: b}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(withLegend))
	if err != nil {
		t.Fatal(err)
	}
	if h, plain := img.Bounds().Dy(), int(chartH.Dots(chartDPI)); h <= plain {
		t.Errorf("chart height %d px, want more than the %d px of the plot (legend below)", h, plain)
	}
}

func TestPlainNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 500: "500", 2.5: "2.5", 7500: "7500", 25000: "25k", 1.5e6: "1.5M", 0.001: "0.001"} {
		if got := plainNum(v); got != want {
			t.Errorf("plainNum(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestSegments(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	var pts []Point
	for _, s := range []int{0, 1, 2, 3, 12, 13, 14} {
		pts = append(pts, Point{T: t0.Add(time.Duration(s) * time.Second)})
	}
	segs := segments(pts)
	if len(segs) != 2 || len(segs[0]) != 4 || len(segs[1]) != 3 {
		t.Fatalf("segments: %v", segs)
	}
}
