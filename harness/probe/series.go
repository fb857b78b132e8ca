package probe

import (
	"slices"
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim"
)

// seriesSampler samples a run over time for report.json's series (and
// report.html's charts): offered, achieved and refused events a second, the
// ingest-ack and query latency percentiles of each interval, and the
// engine's consumer lag per partition of the events topic; and the events
// a second the entry point pushed back (throttled, sent again).
type seriesSampler struct {
	rate  sim.Rate
	dur   time.Duration // the schedule's length: nothing offered after
	snd   *sim.Sender
	ql    *reports.QueryLoad // nil: no query latency
	every time.Duration

	t0, prevT                             time.Time
	prevAcked, prevRefused, prevThrottled int64

	offered, achieved, refused, throttled []reports.Point
	ingest, query                         pctSeries
	lags                                  map[int32]*reports.Series
	// firstEnd and lastEnd are each partition's end offset at its first
	// and last sample: the records produced to it during the run.
	firstEnd, lastEnd map[int32]int64
}

// pctSeries is a latency's percentiles over time.
type pctSeries struct{ p50, p90, p99 reports.Series }

func (p *pctSeries) add(t time.Time, h *hdrhistogram.Histogram) {
	if h == nil || h.TotalCount() == 0 {
		return // no point for an interval without a sample
	}
	ms := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1000 }
	p.p50.Points = append(p.p50.Points, reports.Point{T: t, V: ms(50)})
	p.p90.Points = append(p.p90.Points, reports.Point{T: t, V: ms(90)})
	p.p99.Points = append(p.p99.Points, reports.Point{T: t, V: ms(99)})
}

func (p *pctSeries) latency(kind string) (reports.LatencySeries, bool) {
	if len(p.p99.Points) == 0 {
		return reports.LatencySeries{}, false
	}
	p.p50.Name, p.p90.Name, p.p99.Name = "p50", "p90", "p99"
	return reports.LatencySeries{Kind: kind, Percentiles: []reports.Series{p.p50, p.p90, p.p99}}, true
}

// begin starts the series at now (the traffic's start).
func (s *seriesSampler) begin(now time.Time, snd *sim.Sender, ql *reports.QueryLoad) {
	s.snd, s.ql = snd, ql
	s.t0, s.prevT = now, now
	// Drop what the histograms held before the traffic.
	s.snd.TakeInterval()
	if s.ql != nil {
		s.ql.TakeInterval()
	}
}

// sample adds one tick's reading; the final one (the partial interval at
// the end) adds no lag.
func (s *seriesSampler) sample(r *reading) {
	now := r.now
	if el := now.Sub(s.prevT); el > s.every/10 {
		acked, refused := r.prog.Acked, r.prog.Rejected
		s.offered = append(s.offered, reports.Point{T: now, V: MeanRate(s.rate, s.dur, s.prevT.Sub(s.t0), now.Sub(s.t0))})
		s.achieved = append(s.achieved, reports.Point{T: now, V: float64(acked-s.prevAcked) / el.Seconds()})
		s.refused = append(s.refused, reports.Point{T: now, V: float64(refused-s.prevRefused) / el.Seconds()})
		s.throttled = append(s.throttled, reports.Point{T: now, V: float64(r.prog.Throttled-s.prevThrottled) / el.Seconds()})
		s.prevRefused, s.prevThrottled = refused, r.prog.Throttled
		s.ingest.add(now, s.snd.TakeInterval())
		if s.ql != nil {
			s.query.add(now, s.ql.TakeInterval())
		}
		s.prevT, s.prevAcked = now, acked
	}
	if r.final || !r.lagOK {
		return
	}
	if s.lags == nil {
		s.lags, s.firstEnd, s.lastEnd = map[int32]*reports.Series{}, map[int32]int64{}, map[int32]int64{}
	}
	for p, l := range r.lags.Partitions {
		sr, ok := s.lags[p]
		if !ok {
			sr = &reports.Series{Name: "partition " + strconv.Itoa(int(p))}
			s.lags[p] = sr
			s.firstEnd[p] = l.End
		}
		sr.Points = append(sr.Points, reports.Point{T: now, V: float64(l.Lag)})
		s.lastEnd[p] = l.End
	}
}

// result is what was sampled.
func (s *seriesSampler) result() *reports.TimeSeries {
	ts := &reports.TimeSeries{Offered: s.offered, Achieved: s.achieved, Refused: s.refused, Throttled: s.throttled}
	if l, ok := s.ingest.latency("ingest_ack"); ok {
		ts.Latency = append(ts.Latency, l)
	}
	if l, ok := s.query.latency("query"); ok {
		ts.Latency = append(ts.Latency, l)
	}
	parts := make([]int32, 0, len(s.lags))
	for p := range s.lags {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	for _, p := range parts {
		ts.Lag = append(ts.Lag, *s.lags[p])
		ts.PartitionLoad = append(ts.PartitionLoad, reports.PartitionLoad{Partition: p, Records: s.lastEnd[p] - s.firstEnd[p]})
	}
	return ts
}

// MeanRate is the rate's mean over [a, b) from the start of a run of
// length dur (0 after it).
func MeanRate(r sim.Rate, dur, a, b time.Duration) float64 {
	const steps = 20
	if b <= a {
		return 0
	}
	dt := (b - a) / steps
	var sum float64
	for i := range steps {
		if t := a + time.Duration(i)*dt + dt/2; t < dur {
			sum += r.At(t)
		}
	}
	return sum / steps
}
