package reports

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// synthetic is n one-second samples of a healthy run: offered = achieved
// ramping up 1000 events/s a second, every signal well under its rule.
func synthetic(n int) []SaturationSample {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ss := make([]SaturationSample, n)
	for i := range ss {
		rate := float64(1000 * (i + 1))
		ss[i] = SaturationSample{T: t0.Add(time.Duration(i+1) * time.Second), AtS: float64(i + 1), Offered: rate, Achieved: rate,
			SenderLagMS: 5, SenderBusy: 0.3, RequestP99MS: 20, Throttled: 0, ProduceP99MS: 5,
			EngineLag: float64(100 + i%3), SinkLag: float64(50 + i%2), EventsIn: 10000, AggregatesIn: 5000, InfluxWriteMS: 10, CPUBusy: 0.5}
	}
	return ss
}

func TestEvaluateSaturation(t *testing.T) {
	// from(i) sets a signal from sample i on; lag signals grow from there.
	type mod func(ss []SaturationSample)
	from := func(i int, set func(s *SaturationSample, k int)) mod {
		return func(ss []SaturationSample) {
			for k := i; k < len(ss); k++ {
				set(&ss[k], k-i)
			}
		}
	}
	generator := func(i int) mod {
		return from(i, func(s *SaturationSample, _ int) { s.SenderLagMS, s.SenderBusy = 2500, 0.5 })
	}
	behindButBusy := func(i int) mod { // downstream back-pressure, not the generator
		return from(i, func(s *SaturationSample, _ int) { s.SenderLagMS, s.SenderBusy = 2500, 1 })
	}
	throttled := func(i int) mod { return from(i, func(s *SaturationSample, _ int) { s.Throttled = 0.2 }) }
	slowGateway := func(i int) mod { return from(i, func(s *SaturationSample, _ int) { s.RequestP99MS = 3000 }) }
	broker := func(i int) mod {
		return from(i, func(s *SaturationSample, _ int) { s.ProduceP99MS, s.RequestP99MS = 900, 3000 })
	}
	engine := func(i int) mod {
		return from(i, func(s *SaturationSample, k int) { s.EngineLag = float64(30000 + 5000*k) }) // 3 s, 3.5 s, ...of input
	}
	sinkLag := func(i int) mod {
		return from(i, func(s *SaturationSample, k int) { s.SinkLag = float64(50000 + 2500*k) }) // 5 s, 5.25 s, ... of input: above the 5 s of the linger
	}
	influx := func(i int) mod { return from(i, func(s *SaturationSample, _ int) { s.InfluxWriteMS = 2500 }) }
	f := func(name string, n int, want, wantSignal string, wantAt float64, mods ...mod) {
		t.Helper()
		ss := synthetic(n)
		for _, m := range mods {
			m(ss)
		}
		got := EvaluateSaturation(ss, SaturationRules{})
		if got.First != want || got.FirstSignal != wantSignal || (want != "" && got.AtS != wantAt) {
			t.Errorf("%s: first %q (%s) at %v s, want %q (%s) at %v s; signals %+v", name, got.First, got.FirstSignal, got.AtS,
				want, wantSignal, wantAt, got.Signals)
			return
		}
		if want != "" && (got.AtOfferedEventsPerS != ss[int(wantAt)-1].Offered || got.AtAchievedEventsPerS != ss[int(wantAt)-1].Achieved) {
			t.Errorf("%s: at offered %v achieved %v, want the rates of sample %v", name, got.AtOfferedEventsPerS, got.AtAchievedEventsPerS, wantAt)
		}
		if len(got.Signals) != 7 || got.Samples != n {
			t.Errorf("%s: %d signals, %d samples", name, len(got.Signals), got.Samples)
		}
		if _, err := json.Marshal(got); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	f("healthy", 30, "", "", 0)
	f("generator", 30, StageGenerator, "sender_lag", 11, generator(10), engine(20))
	f("back-pressure is not the generator", 30, StageGateway, "request_p99", 9, behindButBusy(8), slowGateway(8))
	f("gateway throttles", 30, StageGateway, "throttled", 6, throttled(5), generator(12))
	f("gateway slow", 30, StageGateway, "request_p99", 16, slowGateway(15))
	f("broker (slow answers are the broker's)", 30, StageBroker, "produce_p99", 8, broker(7), generator(15))
	f("engine", 30, StageEngine, "events_lag", 5, engine(4), sinkLag(20))
	f("sink lag", 30, StageSink, "aggregates_lag", 13, sinkLag(12), engine(18))
	f("sink influx", 30, StageSink, "influx_write", 3, influx(2), throttled(10))
	// Same sample: the stage furthest downstream is named.
	f("tie broker and gateway", 30, StageBroker, "produce_p99", 10, broker(9), throttled(9))
	f("tie engine and generator", 30, StageEngine, "events_lag", 5, engine(4), generator(4))
	// A streak shorter than the rule does not cross.
	f("blip", 30, "", "", 0, func(ss []SaturationSample) { ss[5].ProduceP99MS, ss[6].ProduceP99MS = 900, 900 })
	// Lag above the floor but not growing does not cross.
	f("high flat lag", 30, "", "", 0, from(3, func(s *SaturationSample, k int) { s.EngineLag = float64(50000 + 1000*(k%2)) }))
	// A ramp the engine keeps up with: the lag in records grows with the
	// rate, the lag in seconds does not.
	f("ramp kept up", 30, "", "", 0, from(0, func(s *SaturationSample, k int) {
		s.EventsIn = float64(1000 * (k + 1))
		s.EngineLag = 3 * s.EventsIn
	}))
	// A growing lag under the records floor does not cross.
	f("tiny lag", 30, "", "", 0, from(0, func(s *SaturationSample, k int) { s.EventsIn, s.EngineLag = 10, float64(30+10*k) }))
	// A signal not measured (NaN) never crosses.
	f("unmeasured", 30, StageBroker, "produce_p99", 8, broker(7), from(0, func(s *SaturationSample, _ int) {
		s.InfluxWriteMS, s.Throttled = math.NaN(), math.NaN()
	}))
}

func TestSaturationUnmeasuredAndPeak(t *testing.T) {
	ss := synthetic(20)
	for i := range ss {
		ss[i].InfluxWriteMS = math.NaN()
	}
	// Achieved peaks at 10..14 (5 samples of 50k), then drops.
	for i := 9; i < 14; i++ {
		ss[i].Achieved = 50000
	}
	got := EvaluateSaturation(ss, SaturationRules{})
	if got.PeakAchievedEventsPerS != 50000 || got.PeakAtS != 14 || got.PeakWindowS != 5 {
		t.Errorf("peak %v at %v over %d s, want 50000 at 14 over 5", got.PeakAchievedEventsPerS, got.PeakAtS, got.PeakWindowS)
	}
	for _, s := range got.Signals {
		if s.Signal == "influx_write" && (s.Measured || s.Crossed || s.CrossedAtS != -1) {
			t.Errorf("unmeasured signal %+v", s)
		}
	}
	if !strings.Contains(got.Text(), "no stage crossed") {
		t.Errorf("text %q", got.Text())
	}
	if p, at := sustainedPeak(ss[:3], 5); p != 2000 || at != 3 {
		t.Errorf("peak of 3 samples: %v at %v, want 2000 at 3", p, at)
	}
}

func TestSaturationReport(t *testing.T) {
	ss := synthetic(20)
	for k := 6; k < 20; k++ {
		ss[k].EngineLag = float64(30000 + 1000*k)
	}
	r := &Report{Scenario: "stress", Saturation: EvaluateSaturation(ss, SaturationRules{})}
	md := r.Markdown()
	for _, want := range []string{"## Saturation", "Engine saturated first (events_lag) at 7 s", "| engine **(first)** | events_lag |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	var html strings.Builder
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h2>Saturation</h2>", "Engine saturated first", "engine (first)", "saturation signals over time"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}

func TestSaturationMarkFault(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	f := func(atS float64, spans []Span, want string) {
		t.Helper()
		s := &Saturation{First: StageEngine, FirstSignal: "events_lag", AtS: atS}
		s.MarkFault(t0, at(60), spans)
		if s.DuringFault != want {
			t.Errorf("crossing at %g s, faults %v: DuringFault %q, want %q", atS, spans, s.DuringFault, want)
		}
		if want != "" && !strings.Contains(s.Text(), "during fault "+want) {
			t.Errorf("Text() does not name the fault: %s", s.Text())
		}
	}
	f(10, nil, "")
	f(10, []Span{{Start: at(5), End: at(15), Label: "cut"}}, "cut")
	f(20, []Span{{Start: at(5), End: at(15), Label: "cut"}}, "")
	f(4, []Span{{Start: at(5), End: at(15), Label: "cut"}}, "")
	// Not recovered: open until the end of the run.
	f(50, []Span{{Start: at(5), Label: "kill"}}, "kill")
	f(30, []Span{{Start: at(5), End: at(8), Label: "a"}, {Start: at(25), End: at(40), Label: "b"}}, "b")
	var none *Saturation
	none.MarkFault(t0, at(60), []Span{{Start: at(0), Label: "x"}})
}
