package reports

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// failingFixture is a report that failed one SLO and accuracy, with a
// fault and a baseline regression.
func failingFixture() *Report {
	start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	r := &Report{
		Scenario: "fixture", StartedAt: start, DurationS: 30,
		Config:     map[string]any{"name": "fixture", "traffic": map[string]any{"rate": map[string]any{"events_per_s": 1000.0}}},
		Throughput: Throughput{OfferedEventsPerS: 1000, AchievedEventsPerS: 640},
		Latency: Latencies{
			IngestAck: Percentiles{P50: 3, P90: 8, P99: 40, P999: 90, Max: 120, Count: 19000},
			Freshness: Percentiles{P50: 300, P90: 700, P99: 2500, P999: 2600, Max: 2700, Count: 30},
			Query:     Percentiles{P50: 2, P90: 5, P99: 9, P999: 11, Max: 12, Count: 300},
		},
		Accuracy: Accuracy{ExpectedEvents: 19000, CountedEvents: 18990, Lost: 10, MismatchedWindows: 2, WindowsChecked: 900,
			WorstWindows: []WindowDiff{{Window: "10s", Type: "VIEW", Key: "k<7>&", Start: start, WantCount: 15, GotCount: 5, WantSum: 150, GotSum: 50}}},
		Faults: []FaultRecord{{Name: "broker-restart", Kind: "broker-crash", InjectedAt: TimeOf(start.Add(10 * time.Second)),
			HealedAt: TimeOf(start.Add(14 * time.Second)), RecoveryS: 2.5},
			{Name: "w1", Kind: "worker-crash", InjectedAt: TimeOf(start.Add(20 * time.Second)), RecoveryS: -1}},
	}
	base := *r
	base.Throughput.AchievedEventsPerS = 1000
	r.Compare(&base, "old/report.json", GateConfig{})
	r.EvaluateSLO(Thresholds{MinThroughputEventsPerS: 800, MaxP99IngestAckMS: 100, AccuracyExact: true})
	return r
}

func TestWriteHTML(t *testing.T) {
	f := func(name string, r *Report, opts []HTMLOpt, wantImgs int, want ...string) {
		t.Helper()
		var b bytes.Buffer
		if err := r.WriteHTML(&b, opts...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := b.String()
		checkBalanced(t, name, out)
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: no %q in the HTML", name, w)
			}
		}
		if strings.Contains(out, "http://") || strings.Contains(out, "https://") {
			t.Errorf("%s: the page refers to the network", name)
		}
		srcs := regexp.MustCompile(`src="data:image/png;base64,([^"]+)"`).FindAllStringSubmatch(out, -1)
		if len(srcs) != wantImgs {
			t.Errorf("%s: %d embedded PNGs, want %d", name, len(srcs), wantImgs)
		}
		for i, s := range srcs {
			raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(s[1]))
			if err != nil {
				t.Fatalf("%s: image %d: %v", name, i, err)
			}
			img, err := png.Decode(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("%s: image %d: %v", name, i, err)
			}
			if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
				t.Errorf("%s: image %d is %v", name, i, b)
			}
		}
	}

	fail := failingFixture()
	f("fail", fail, nil, 3,
		`class="verdict FAIL"`, "countlab run: fixture",
		`<tr class="fail"><td>min_throughput_events_per_s</td>`, `<tr class="pass"><td>max_p99_ingest_ack_ms</td>`,
		`<tr class="fail"><td>accuracy_exact</td>`,
		"Not exact: up to 2 of 900 windows differ", "k&lt;7&gt;&amp;", "5 (want 15)",
		"REGRESSED", "broker-restart", "12:00:10.000", "did not recover", "traffic.rate.events_per_s", "SLO min_throughput_events_per_s: 640")

	pass := failingFixture()
	pass.Accuracy = Accuracy{ExpectedEvents: 5, CountedEvents: 5, WindowsChecked: 1, Exact: true}
	pass.Baseline, pass.Faults, pass.Latency.Freshness = nil, nil, Percentiles{}
	pass.EvaluateSLO(Thresholds{MaxP99IngestAckMS: 100, AccuracyExact: true})
	f("pass", pass, nil, 2, `class="verdict PASS"`, "Exact: every one of 1 windows", "No faults were injected.")

	t0 := fail.StartedAt
	var offered, achieved, p99 []Point
	for i := range 31 {
		ts := t0.Add(time.Duration(i) * time.Second)
		offered = append(offered, Point{ts, 1000})
		achieved = append(achieved, Point{ts, 1000 - 400*float64(min(i/10, 1))})
		p99 = append(p99, Point{ts, float64(30 + i)})
	}
	ts := &TimeSeries{Offered: offered, Achieved: achieved,
		Latency: []LatencySeries{{Kind: "ingest_ack", Percentiles: []Series{{Name: "p99", Points: p99}}}}}
	f("series", fail, []HTMLOpt{WithSeries(ts)}, 5, "Over time (faults shaded red)")

	// The report's own Series (as a run writes it), with consumer lag:
	// a line a partition, or total and largest for many partitions.
	lagged := func(parts int) *Report {
		r := failingFixture()
		s := *ts
		for p := range parts {
			lag := Series{Name: fmt.Sprintf("partition %d", p)}
			for i := range 31 {
				lag.Points = append(lag.Points, Point{t0.Add(time.Duration(i) * time.Second), float64(p * i)})
			}
			s.Lag = append(s.Lag, lag)
		}
		r.Series = &s
		return r
	}
	f("report series", lagged(3), nil, 6, "consumer lag over time")
	f("report series, many partitions", lagged(12), nil, 6, "consumer lag over time")
	// An option overrides the report's series.
	f("option over report series", lagged(3), []HTMLOpt{WithSeries(&TimeSeries{Offered: offered})}, 4, "throughput over time")
	f("empty report series", func() *Report { r := failingFixture(); r.Series = &TimeSeries{}; return r }(), nil, 3)

	// report.json keeps the series.
	b, err := json.Marshal(lagged(2))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Series == nil || len(back.Series.Offered) != 31 || len(back.Series.Lag) != 2 || len(back.Series.Latency) != 1 {
		t.Fatalf("series after a JSON round trip: %+v", back.Series)
	}
}

func TestLagSummary(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t1 := t0.Add(time.Second)
	got := lagSummary([]Series{
		{Name: "partition 0", Points: []Point{{t0, 5}, {t1, 1}}},
		{Name: "partition 1", Points: []Point{{t1, 7}}},
		{Name: "partition 2", Points: []Point{{t0, 2}, {t1, 0}}},
	})
	want := []Series{
		{Name: "total", Points: []Point{{t0, 7}, {t1, 8}}},
		{Name: "largest partition", Points: []Point{{t0, 5}, {t1, 7}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// checkBalanced fails unless every element the page opens is closed in
// order (void elements aside).
func checkBalanced(t *testing.T, name, page string) {
	t.Helper()
	void := map[string]bool{"meta": true, "img": true, "br": true, "hr": true, "link": true, "input": true}
	z := html.NewTokenizer(strings.NewReader(page))
	var stack []string
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Fatalf("%s: %v", name, z.Err())
			}
			if len(stack) > 0 {
				t.Fatalf("%s: unclosed %v", name, stack)
			}
			return
		case html.StartTagToken:
			n, _ := z.TagName()
			if !void[string(n)] {
				stack = append(stack, string(n))
			}
		case html.EndTagToken:
			n, _ := z.TagName()
			if len(stack) == 0 || stack[len(stack)-1] != string(n) {
				t.Fatalf("%s: </%s> closes %v", name, n, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
}

func TestFaultSpans(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := func(in FaultRecord, want []Span) {
		t.Helper()
		got := FaultSpans([]FaultRecord{in})
		if len(got) != len(want) {
			t.Fatalf("%+v: got %v, want %v", in, got, want)
		}
		for i := range got {
			if !got[i].Start.Equal(want[i].Start) || !got[i].End.Equal(want[i].End) || got[i].Label != want[i].Label {
				t.Fatalf("%+v: got %v, want %v", in, got, want)
			}
		}
	}
	// From the injection to the heal; a fault never healed lasts to the
	// end of the chart; one never injected has no span.
	f(FaultRecord{Name: "restart-1", Kind: "broker-crash", InjectedAt: TimeOf(t0), HealedAt: TimeOf(t0.Add(3 * time.Second)), RecoveryS: 1.5},
		[]Span{{t0, t0.Add(3 * time.Second), "restart-1"}})
	f(FaultRecord{Kind: "worker-crash", InjectedAt: TimeOf(t0), HealedAt: TimeOf(t0.Add(time.Second))}, []Span{{t0, t0.Add(time.Second), "worker-crash"}})
	f(FaultRecord{Name: "stuck", InjectedAt: TimeOf(t0), RecoveryS: -1}, []Span{{Start: t0, Label: "stuck"}})
	f(FaultRecord{Name: "no time", Error: "not injected"}, nil)
}
