package reports

import (
	"math"
	"testing"
	"time"
)

// A ramp that keeps up to 60k events/s, whose freshness breaks past 50k:
// the sustainable rate is the best 5 s window below 50k, limited by
// freshness; with a looser freshness bound it is limited by throughput.
func TestSustainableRate(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	ts := &TimeSeries{}
	var tracers []Point
	lag := Series{Name: "0"}
	for i := 1; i <= 30; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		offered := float64(i) * 4000 // 4k .. 120k
		achieved := math.Min(offered, 60000)
		ts.Offered = append(ts.Offered, Point{T: at, V: offered})
		ts.Achieved = append(ts.Achieved, Point{T: at, V: achieved})
		fresh := 200.0
		if offered > 50000 {
			fresh = 2000
		}
		for k := range 10 {
			tracers = append(tracers, Point{T: at.Add(-time.Duration(k) * 100 * time.Millisecond), V: fresh})
		}
		lag.Points = append(lag.Points, Point{T: at, V: math.Max(0, offered-60000) * 3})
	}
	ts.Lag = []Series{lag}
	ts.Latency = []LatencySeries{{Kind: "freshness", Percentiles: []Series{{Name: "each tracer", Points: tracers}}}}

	s := SustainableRate(ts, 1000)
	if s == nil || s.LimitedBy != "freshness" || s.EventsPerS != 40000 || s.AtS != 12 {
		t.Fatalf("got %+v, want 40000 events/s (seconds 8-12) limited by freshness", s)
	}
	s = SustainableRate(ts, 5000)
	if s == nil || s.LimitedBy != "throughput" || s.EventsPerS != 57600 {
		t.Fatalf("got %+v, want 57600 events/s (seconds 13-17: 95%% of the offered 60000) limited by throughput", s)
	}
	if s.Text() == "" {
		t.Fatal("no text")
	}
	if SustainableRate(nil, 0) != nil || SustainableRate(&TimeSeries{}, 0) != nil {
		t.Fatal("a rate from no series")
	}
}

// A hostile run refuses a fifth of what it offers by the contract (each
// answered with its reason): it keeps up, so every window is sustainable
// at the acknowledged rate; the same acknowledged rate with nothing
// refused fell behind.
func TestSustainableRateCountsRefused(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	ts := &TimeSeries{}
	for i := 1; i <= 10; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		ts.Offered = append(ts.Offered, Point{T: at, V: 500})
		ts.Achieved = append(ts.Achieved, Point{T: at, V: 400})
		ts.Refused = append(ts.Refused, Point{T: at, V: 100})
	}
	s := SustainableRate(ts, 1000)
	if s == nil || s.AtS < 0 || s.EventsPerS != 400 || s.LimitedBy != "" {
		t.Fatalf("got %+v, want 400 events/s sustainable, never broken", s)
	}
	ts.Refused = nil
	s = SustainableRate(ts, 1000)
	if s == nil || s.AtS >= 0 || s.LimitedBy != "throughput" {
		t.Fatalf("got %+v, want no window sustainable (throughput)", s)
	}
}

// A ramp whose entry point pushes back (429, sent again) past 40k events/s
// offered: the acknowledged rate stays near the offered one, since the
// sender re-sends, and the windows after the push-back drain its backlog
// (acknowledged above offered). The ceiling is the last window before the
// push-back, limited by "throttled", and no window's rate is more than it
// was offered.
func TestSustainableRateThrottled(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	ts := &TimeSeries{}
	for i := 1; i <= 20; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		offered := float64(i) * 4000 // 4k .. 80k
		achieved, throttled := offered, 0.0
		switch {
		case i == 11 || i == 12:
			achieved, throttled = offered*0.9, offered*0.2 // pushed back, then...
		case i > 12:
			achieved = offered * 1.08 // ...the backlog sent on top
		}
		ts.Offered = append(ts.Offered, Point{T: at, V: offered})
		ts.Achieved = append(ts.Achieved, Point{T: at, V: achieved})
		ts.Throttled = append(ts.Throttled, Point{T: at, V: throttled})
	}
	s := SustainableRate(ts, 1000)
	// Seconds 6-10 are the best window before the push-back: 32k offered
	// on average. Windows from 16 on hold no push-back and ack more than
	// offered: their rate is the offered one, higher, so one of them wins,
	// capped at its offered rate.
	if s == nil || s.EventsPerS != s.OfferedEventsPerS || s.EventsPerS != 72000 {
		t.Fatalf("got %+v, want the best window capped at its offered rate (72000)", s)
	}
	// Pushed back for good: every window from 11 on is throttled.
	for i := 10; i < 20; i++ {
		ts.Throttled[i].V = ts.Offered[i].V * 0.05
	}
	s = SustainableRate(ts, 1000)
	if s == nil || s.EventsPerS != 32000 || s.AtS != 10 || s.LimitedBy != "throttled" || s.BrokeAtS != 11 {
		t.Fatalf("got %+v, want 32000 events/s (seconds 6-10) limited by throttled at 11 s", s)
	}
}
