package reports

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Stages of the pipeline, in the order data flows through them.
const (
	StageGenerator = "generator"
	StageGateway   = "gateway"
	StageBroker    = "broker"
	StageEngine    = "engine"
	StageSink      = "sink"
)

// SaturationSample is one interval (a second) of a run's saturation
// signals, one per stage. A NaN field was not measured in the interval
// (no gateway with via: kafka, an InfluxDB without /debug/vars, ...) and
// never crosses a rule.
type SaturationSample struct {
	T time.Time
	// AtS is the end of the interval, in seconds from the start of the
	// traffic.
	AtS float64
	// Offered and Achieved are the intended and acknowledged events a
	// second over the interval.
	Offered, Achieved float64
	// SenderLagMS is how far the sender is behind its schedule: the
	// intended sends not yet generated, in milliseconds at the current
	// rate.
	SenderLagMS float64
	// SenderBusy is the share of the sender's connections busy with a
	// request over the interval, in [0, 1].
	SenderBusy float64
	// RequestP99MS is the p99 round trip of the sender's requests (to the
	// gateway or the broker), without the time a batch waited for a free
	// connection.
	RequestP99MS float64
	// Throttled is the share of the gateway's requests answered 429 or 503.
	Throttled float64
	// ProduceP99MS is the gateway's Kafka produce-acknowledgement p99.
	ProduceP99MS float64
	// EngineLag is the engine group's consumer lag on the events topic and
	// SinkLag the sink group's on the aggregates topic, records summed over
	// partitions; EventsIn and AggregatesIn are the records produced to
	// each topic a second over the interval.
	EngineLag, SinkLag     float64
	EventsIn, AggregatesIn float64
	// InfluxWriteMS is the mean InfluxDB write request duration.
	InfluxWriteMS float64
	// CPUBusy is the machine's CPU busy share over the interval, in [0, 1]
	// (context: on one machine every stage shares it).
	CPUBusy float64
}

// SaturationRules are the thresholds of the saturation rules; zero fields
// take the defaults (DefaultSaturationRules).
type SaturationRules struct {
	// Sustain is how many consecutive samples a threshold rule must hold.
	Sustain int
	// SenderLagMS: the generator is saturated when the sender is this far
	// behind its schedule while fewer than SenderBusy of its connections
	// are busy (it had room to send but could not generate in time).
	SenderLagMS float64
	SenderBusy  float64
	// ThrottledShare: the gateway is saturated when at least this share of
	// its requests is answered 429 or 503.
	ThrottledShare float64
	// RequestP99MS: the gateway is saturated when the request p99 is above
	// this while the broker's produce p99 is within ProduceP99MS.
	RequestP99MS float64
	// ProduceP99MS: the broker is saturated when the gateway's Kafka
	// produce-acknowledgement p99 is above this.
	ProduceP99MS float64
	// GrowFor, EngineLagS, SinkLagS: the engine (sink) is saturated when
	// its consumer lag, in seconds of its topic's input (the lag in records
	// over the records produced a second, averaged over GrowFor samples),
	// is above EngineLagS (SinkLagS) and grew in each of GrowFor
	// consecutive samples: growing without bound. In seconds, not records,
	// so that a ramp, which raises the records in flight of a consumer that
	// keeps up, does not cross. A lag under MinLagRecords never crosses.
	GrowFor       int
	EngineLagS    float64
	SinkLagS      float64
	MinLagRecords float64
	// InfluxWriteMS: the sink is saturated when InfluxDB's mean write
	// request duration is above this.
	InfluxWriteMS float64
	// PeakWindow is the moving average the sustained peak achieved rate is
	// taken over, in samples.
	PeakWindow int
}

// DefaultSaturationRules are the rules' default thresholds.
var DefaultSaturationRules = SaturationRules{
	Sustain:        3,
	SenderLagMS:    1000,
	SenderBusy:     0.9,
	ThrottledShare: 0.01,
	RequestP99MS:   1000,
	ProduceP99MS:   500,
	GrowFor:        5,
	EngineLagS:     2,
	SinkLagS:       5, // the engine's 2 s plus the sink's 3 s linger, which its lag includes (TestSinkLagRuleCoversLinger in harness/stack keeps them in step)
	MinLagRecords:  1000,
	InfluxWriteMS:  1000,
	PeakWindow:     5,
}

func (r SaturationRules) withDefaults() SaturationRules {
	d := DefaultSaturationRules
	set := func(v *float64, def float64) {
		if *v <= 0 {
			*v = def
		}
	}
	if r.Sustain <= 0 {
		r.Sustain = d.Sustain
	}
	if r.GrowFor <= 0 {
		r.GrowFor = d.GrowFor
	}
	if r.PeakWindow <= 0 {
		r.PeakWindow = d.PeakWindow
	}
	set(&r.SenderLagMS, d.SenderLagMS)
	set(&r.SenderBusy, d.SenderBusy)
	set(&r.ThrottledShare, d.ThrottledShare)
	set(&r.RequestP99MS, d.RequestP99MS)
	set(&r.ProduceP99MS, d.ProduceP99MS)
	set(&r.EngineLagS, d.EngineLagS)
	set(&r.SinkLagS, d.SinkLagS)
	set(&r.MinLagRecords, d.MinLagRecords)
	set(&r.InfluxWriteMS, d.InfluxWriteMS)
	return r
}

// Saturation is report.json's saturation: which stage crossed its
// saturation rule first, and the rates then.
type Saturation struct {
	// First is the stage that crossed first ("" when none did). When
	// several cross in the same sample, the one furthest downstream is
	// named: back-pressure travels upstream (a slow broker holds the
	// gateway's answers, which holds the sender's connections).
	First string `json:"first"`
	// FirstSignal is the signal of First that crossed.
	FirstSignal string `json:"first_signal,omitempty"`
	// AtS is when First started crossing (the first sample of its
	// streak), in seconds from the start of the traffic; the offered and
	// achieved rates and the machine's CPU busy share are of that sample.
	AtS                  float64 `json:"at_s"`
	AtOfferedEventsPerS  float64 `json:"at_offered_events_per_s"`
	AtAchievedEventsPerS float64 `json:"at_achieved_events_per_s"`
	AtCPUBusy            float64 `json:"at_cpu_busy"`
	// PeakAchievedEventsPerS is the highest achieved rate sustained over
	// PeakWindowS seconds (moving average), at PeakAtS.
	PeakAchievedEventsPerS float64 `json:"peak_achieved_events_per_s"`
	PeakAtS                float64 `json:"peak_at_s"`
	PeakWindowS            int     `json:"peak_window_s"`
	// Signals are every stage's signals with their rules, in pipeline
	// order.
	Signals []SaturationSignal `json:"signals"`
	// Samples is the number of samples evaluated.
	Samples int `json:"samples"`
	// Series is each signal over time relative to its threshold (1 = the
	// threshold), for the chart.
	Series []Series `json:"series,omitempty"`
	// MachineBusy is the machine's CPU busy share at each sample, in [0,
	// 1] (every process on it, the run's and any other).
	MachineBusy []Point `json:"machine_cpu_busy,omitempty"`
	// DuringFault names the injected fault whose window (from its
	// injection until it recovered) holds AtS: First stalled because of
	// that fault, which says nothing about capacity ("" otherwise).
	DuringFault string `json:"during_fault,omitempty"`
	// Sustainable is the highest rate sustained with bounded lag and
	// fresh answers (sustainable.go); nil without the run's time series.
	Sustainable *Sustainable `json:"sustainable,omitempty"`
}

// MarkFault sets DuringFault to the first of the faults whose window,
// from its injection until it recovered (or the run ended: end), holds
// the first crossing; start is when the traffic started.
func (s *Saturation) MarkFault(start, end time.Time, faults []Span) {
	if s == nil || s.First == "" {
		return
	}
	at := start.Add(time.Duration(s.AtS * float64(time.Second)))
	for _, f := range faults {
		until := f.End
		if until.IsZero() {
			until = end
		}
		if !at.Before(f.Start) && !at.After(until) {
			s.DuringFault = f.Label
			return
		}
	}
}

// SaturationSignal is one signal's verdict.
type SaturationSignal struct {
	Stage  string `json:"stage"`
	Signal string `json:"signal"`
	// Crossed says whether the rule held; CrossedAtS is when its streak
	// started (-1: never).
	Crossed    bool    `json:"crossed"`
	CrossedAtS float64 `json:"crossed_at_s"`
	Rule       string  `json:"rule"`
	// Value is the signal at the crossing (when it never crossed: its
	// largest value); Unit its unit.
	Value float64 `json:"value"`
	Max   float64 `json:"max"`
	Unit  string  `json:"unit"`
	// Measured is false when the run could not measure the signal.
	Measured bool `json:"measured"`
}

// satRule is one signal's rule.
type satRule struct {
	stage, signal, unit, text string
	// sustain is the streak length the condition must hold for.
	sustain int
	value   func(ss []SaturationSample, i int) float64
	// cond is the condition at sample i.
	cond func(ss []SaturationSample, i int) bool
	// scale normalizes the value for the chart (1 = threshold).
	scale float64
}

func saturationRules(r SaturationRules) []satRule {
	val := func(f func(*SaturationSample) float64) func(*SaturationSample) float64 { return f }
	at := func(f func(*SaturationSample) float64) func([]SaturationSample, int) float64 {
		return func(ss []SaturationSample, i int) float64 { return f(&ss[i]) }
	}
	over := func(f func(*SaturationSample) float64, th float64) func([]SaturationSample, int) bool {
		return func(ss []SaturationSample, i int) bool { return f(&ss[i]) > th }
	}
	// lagS is a lag in seconds of its topic's input, averaged over the
	// last GrowFor samples (NaN: no lag or no input measured).
	lagS := func(lag, in func(*SaturationSample) float64) func([]SaturationSample, int) float64 {
		return func(ss []SaturationSample, i int) float64 {
			var sum float64
			n := 0
			for k := max(0, i-r.GrowFor+1); k <= i; k++ {
				if v := in(&ss[k]); !math.IsNaN(v) {
					sum += v
					n++
				}
			}
			l := lag(&ss[i])
			if n == 0 || sum <= 0 || math.IsNaN(l) {
				return math.NaN()
			}
			return l / (sum / float64(n))
		}
	}
	grows := func(lag func(*SaturationSample) float64, secs func([]SaturationSample, int) float64, th float64) func([]SaturationSample, int) bool {
		return func(ss []SaturationSample, i int) bool {
			return i > 0 && lag(&ss[i]) >= r.MinLagRecords && secs(ss, i) > th && secs(ss, i) > secs(ss, i-1)
		}
	}
	senderLag := val(func(s *SaturationSample) float64 { return s.SenderLagMS })
	throttled := val(func(s *SaturationSample) float64 { return s.Throttled })
	request := val(func(s *SaturationSample) float64 { return s.RequestP99MS })
	produce := val(func(s *SaturationSample) float64 { return s.ProduceP99MS })
	engineLag := val(func(s *SaturationSample) float64 { return s.EngineLag })
	sinkLag := val(func(s *SaturationSample) float64 { return s.SinkLag })
	engineS := lagS(engineLag, func(s *SaturationSample) float64 { return s.EventsIn })
	sinkS := lagS(sinkLag, func(s *SaturationSample) float64 { return s.AggregatesIn })
	influxW := val(func(s *SaturationSample) float64 { return s.InfluxWriteMS })
	n := r.Sustain
	return []satRule{
		{stage: StageGenerator, signal: "sender_lag", unit: "ms", sustain: n, value: at(senderLag), scale: r.SenderLagMS,
			text: fmt.Sprintf("sender behind its schedule by > %.0f ms while < %.0f%% of its connections are busy, %d s in a row", r.SenderLagMS, 100*r.SenderBusy, n),
			cond: func(ss []SaturationSample, i int) bool {
				return ss[i].SenderLagMS > r.SenderLagMS && ss[i].SenderBusy < r.SenderBusy
			}},
		{stage: StageGateway, signal: "throttled", unit: "share", sustain: n, value: at(throttled), scale: r.ThrottledShare,
			text: fmt.Sprintf(">= %.1f%% of gateway requests answered 429/503, %d s in a row", 100*r.ThrottledShare, n),
			cond: func(ss []SaturationSample, i int) bool { return ss[i].Throttled >= r.ThrottledShare }},
		{stage: StageGateway, signal: "request_p99", unit: "ms", sustain: n, value: at(request), scale: r.RequestP99MS,
			text: fmt.Sprintf("request round-trip p99 > %.0f ms while the Kafka produce p99 is <= %.0f ms, %d s in a row", r.RequestP99MS, r.ProduceP99MS, n),
			cond: func(ss []SaturationSample, i int) bool {
				return ss[i].RequestP99MS > r.RequestP99MS && !(ss[i].ProduceP99MS > r.ProduceP99MS)
			}},
		{stage: StageBroker, signal: "produce_p99", unit: "ms", sustain: n, value: at(produce), scale: r.ProduceP99MS,
			text: fmt.Sprintf("gateway's Kafka produce-ack p99 > %.0f ms, %d s in a row", r.ProduceP99MS, n),
			cond: over(produce, r.ProduceP99MS)},
		{stage: StageEngine, signal: "events_lag", unit: "s", sustain: r.GrowFor, value: engineS, scale: r.EngineLagS,
			text: fmt.Sprintf("engine consumer lag on events > %g s of input (and >= %.0f records) and growing, %d s in a row", r.EngineLagS, r.MinLagRecords, r.GrowFor),
			cond: grows(engineLag, engineS, r.EngineLagS)},
		{stage: StageSink, signal: "aggregates_lag", unit: "s", sustain: r.GrowFor, value: sinkS, scale: r.SinkLagS,
			text: fmt.Sprintf("sink consumer lag on aggregates > %g s of input (and >= %.0f records) and growing, %d s in a row", r.SinkLagS, r.MinLagRecords, r.GrowFor),
			cond: grows(sinkLag, sinkS, r.SinkLagS)},
		{stage: StageSink, signal: "influx_write", unit: "ms", sustain: n, value: at(influxW), scale: r.InfluxWriteMS,
			text: fmt.Sprintf("InfluxDB mean write request > %.0f ms, %d s in a row", r.InfluxWriteMS, n),
			cond: over(influxW, r.InfluxWriteMS)},
	}
}

// stageRank orders stages downstream first, for ties.
var stageRank = map[string]int{StageSink: 0, StageEngine: 1, StageBroker: 2, StageGateway: 3, StageGenerator: 4}

// chartCap is the largest relative value the saturation chart draws.
const chartCap = 5

// EvaluateSaturation applies the rules to samples (in time order, one an
// interval) and says which stage saturated first.
func EvaluateSaturation(samples []SaturationSample, rules SaturationRules) *Saturation {
	r := rules.withDefaults()
	out := &Saturation{Samples: len(samples), AtS: -1, PeakWindowS: r.PeakWindow}
	for _, s := range samples {
		if !math.IsNaN(s.CPUBusy) {
			out.MachineBusy = append(out.MachineBusy, Point{T: s.T, V: s.CPUBusy})
		}
	}
	firstIdx, firstRank := -1, 0
	for _, ru := range saturationRules(r) {
		sig := SaturationSignal{Stage: ru.stage, Signal: ru.signal, Rule: ru.text, Unit: ru.unit, CrossedAtS: -1}
		streak, at := 0, -1
		series := Series{Name: ru.stage + " " + ru.signal}
		for i := range samples {
			v := ru.value(samples, i)
			if math.IsNaN(v) {
				streak = 0
				continue
			}
			sig.Measured = true
			sig.Max = max(sig.Max, v)
			series.Points = append(series.Points, Point{T: samples[i].T, V: min(v/ru.scale, chartCap)})
			if at >= 0 {
				continue
			}
			if !ru.cond(samples, i) {
				streak = 0
				continue
			}
			streak++
			if streak >= ru.sustain {
				at = i - streak + 1
			}
		}
		if at >= 0 {
			sig.Crossed, sig.CrossedAtS, sig.Value = true, samples[at].AtS, ru.value(samples, at)
			rank := stageRank[ru.stage]
			if firstIdx < 0 || at < firstIdx || at == firstIdx && rank < firstRank {
				firstIdx, firstRank = at, rank
				out.First, out.FirstSignal = ru.stage, ru.signal
			}
		} else {
			sig.Value = sig.Max
		}
		out.Signals = append(out.Signals, sig)
		if len(series.Points) > 0 {
			out.Series = append(out.Series, series)
		}
	}
	if firstIdx >= 0 {
		s := samples[firstIdx]
		out.AtS, out.AtOfferedEventsPerS, out.AtAchievedEventsPerS = s.AtS, s.Offered, s.Achieved
		if !math.IsNaN(s.CPUBusy) {
			out.AtCPUBusy = s.CPUBusy
		}
	}
	out.PeakAchievedEventsPerS, out.PeakAtS = sustainedPeak(samples, r.PeakWindow)
	return out
}

// sustainedPeak is the highest moving average of the achieved rate over w
// samples (over all of them when there are fewer), and when it ended.
func sustainedPeak(ss []SaturationSample, w int) (peak, at float64) {
	if len(ss) == 0 {
		return 0, 0
	}
	w = min(w, len(ss))
	var sum float64
	for i := range ss {
		sum += ss[i].Achieved
		if i >= w {
			sum -= ss[i-w].Achieved
		}
		if i >= w-1 && sum/float64(w) > peak {
			peak, at = sum/float64(w), ss[i].AtS
		}
	}
	return peak, at
}

// Text is a one-line summary: what saturated first and at what rate.
func (s *Saturation) Text() string {
	if s == nil {
		return ""
	}
	peak := fmt.Sprintf("sustained peak %.0f events/s (%d s average, at %.0f s)", s.PeakAchievedEventsPerS, s.PeakWindowS, s.PeakAtS)
	if s.Sustainable != nil {
		peak += "; " + s.Sustainable.Text()
	}
	if s.First == "" {
		return "no stage crossed its saturation rule; " + peak
	}
	if s.DuringFault != "" {
		return fmt.Sprintf("%s stalled first (%s) at %.0f s, during fault %s: a fault's effect, not the pipeline's capacity; %s",
			s.First, s.FirstSignal, s.AtS, s.DuringFault, peak)
	}
	return fmt.Sprintf("%s saturated first (%s) at %.0f s: offered %.0f events/s, achieved %.0f events/s, machine CPU %.0f%% busy; %s",
		s.First, s.FirstSignal, s.AtS, s.AtOfferedEventsPerS, s.AtAchievedEventsPerS, 100*s.AtCPUBusy, peak)
}

// saturationMarkdown is report.md's saturation section.
func (r *Report) saturationMarkdown(b *strings.Builder) {
	s := r.Saturation
	if s == nil {
		return
	}
	fmt.Fprintf(b, "\n## Saturation\n\n%s.\n\n", capitalize(s.Text()))
	b.WriteString("| stage | signal | rule | crossed at (s) | value | max | unit |\n|---|---|---|---:|---:|---:|---|\n")
	for _, g := range s.Signals {
		at := "never"
		switch {
		case !g.Measured:
			at = "not measured"
		case g.Crossed:
			at = fmt.Sprintf("%.0f", g.CrossedAtS)
		}
		first := ""
		if g.Crossed && g.Stage == s.First && g.Signal == s.FirstSignal {
			first = " **(first)**"
		}
		fmt.Fprintf(b, "| %s%s | %s | %s | %s | %s | %s | %s |\n", g.Stage, first, g.Signal, g.Rule, at, num(g.Value), num(g.Max), g.Unit)
	}
	s.Sustainable.ceilingMarkdown(b) // ceiling.go
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// htmlSaturation is report.html's saturation section.
type htmlSaturation struct {
	Text    string
	Signals []htmlSignal
	Chart   *htmlChart
	// Ceiling is the sustainable rate and its limiting stage (ceiling.go).
	Ceiling [][2]string
}

type htmlSignal struct {
	Stage, Signal, Rule, At, Value, Max, Unit string
	First, Crossed                            bool
}

// saturationHTML fills v's saturation section (and its chart).
func (r *Report) saturationHTML(v *htmlView) error {
	s := r.Saturation
	if s == nil {
		return nil
	}
	h := &htmlSaturation{Text: capitalize(s.Text()) + ".", Ceiling: s.Sustainable.ceilingRows()}
	for _, g := range s.Signals {
		at := "never"
		switch {
		case !g.Measured:
			at = "not measured"
		case g.Crossed:
			at = fmt.Sprintf("%.0f s", g.CrossedAtS)
		}
		h.Signals = append(h.Signals, htmlSignal{Stage: g.Stage, Signal: g.Signal, Rule: g.Rule, At: at, Value: num(g.Value), Max: num(g.Max),
			Unit: g.Unit, Crossed: g.Crossed, First: g.Crossed && g.Stage == s.First && g.Signal == s.FirstSignal})
	}
	if len(s.Series) > 0 {
		png, err := TimeChart(fmt.Sprintf("Saturation signals (1 = threshold, capped at %d)", chartCap), "× threshold", s.Series, FaultSpans(r.Faults))
		if err != nil {
			return fmt.Errorf("saturation chart: %w", err)
		}
		c := pngChart("saturation signals over time", png)
		h.Chart = &c
	}
	v.Saturation = h
	return nil
}
