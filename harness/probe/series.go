package main

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim"
)

// seriesEvery is how often the run is sampled for the report's series.
const seriesEvery = time.Second

// seriesSampler samples a run over time for report.json's series (and
// report.html's charts): offered and achieved events a second, the
// ingest-ack and query latency percentiles of each interval, and the
// engine's consumer lag per partition of the events topic. One goroutine,
// run with the traffic.
type seriesSampler struct {
	rate  sim.Rate
	dur   time.Duration // the schedule's length: nothing offered after
	snd   *sim.Sender
	ql    *reports.QueryLoad // nil: no query latency
	every time.Duration
	log   *slog.Logger

	// lag, when set, is the engine's lag and the end offset per partition
	// of the events topic.
	lag func(ctx context.Context) (map[int32]partitionLag, error)

	offered, achieved []reports.Point
	ingest, query     pctSeries
	lags              map[int32]*reports.Series
	// firstEnd and lastEnd are each partition's end offset at its first
	// and last sample: the records produced to it during the run.
	firstEnd, lastEnd map[int32]int64
}

// partitionLag is one partition's engine lag and end offset.
type partitionLag struct{ lag, end int64 }

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

// newEngineLag is the engine group's lag and end offset per partition of
// the events topic, through its own Kafka client (close it with the
// returned func).
func newEngineLag(st *stack) (func(context.Context) (map[int32]partitionLag, error), func(), error) {
	cl, err := st.conn.NewClient()
	if err != nil {
		return nil, nil, err
	}
	adm := kadm.NewClient(cl)
	topic := st.topics.Events
	lag := func(ctx context.Context) (map[int32]partitionLag, error) {
		ls, err := adm.Lag(ctx, aggregate.DefaultGroup)
		if err != nil {
			return nil, err
		}
		if err := ls.Error(); err != nil {
			return nil, err
		}
		out := map[int32]partitionLag{}
		for p, l := range ls[aggregate.DefaultGroup].Lag[topic] {
			if l.Err == nil && l.Lag >= 0 {
				out[p] = partitionLag{lag: l.Lag, end: l.End.Offset}
			}
		}
		return out, nil
	}
	return lag, cl.Close, nil
}

// run samples every interval until ctx is done, then takes a last sample
// of the partial interval.
func (s *seriesSampler) run(ctx context.Context) {
	if s.every <= 0 {
		s.every = seriesEvery
	}
	t0 := time.Now()
	prevT, prevAcked := t0, int64(0)
	// Drop what the histograms held before the traffic.
	s.snd.TakeInterval()
	if s.ql != nil {
		s.ql.TakeInterval()
	}
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	for {
		done := false
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
		}
		now := time.Now()
		if el := now.Sub(prevT); el > s.every/10 {
			acked := s.snd.Progress().Acked
			s.offered = append(s.offered, reports.Point{T: now, V: meanRate(s.rate, s.dur, prevT.Sub(t0), now.Sub(t0))})
			s.achieved = append(s.achieved, reports.Point{T: now, V: float64(acked-prevAcked) / el.Seconds()})
			s.ingest.add(now, s.snd.TakeInterval())
			if s.ql != nil {
				s.query.add(now, s.ql.TakeInterval())
			}
			prevT, prevAcked = now, acked
		}
		if done {
			return
		}
		s.sampleLag(ctx, now)
	}
}

func (s *seriesSampler) sampleLag(ctx context.Context, now time.Time) {
	if s.lag == nil {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, s.every*9/10)
	defer cancel()
	ls, err := s.lag(lctx)
	if err != nil {
		if ctx.Err() == nil && s.log != nil {
			s.log.Debug("consumer lag sample", "err", err)
		}
		return
	}
	if s.lags == nil {
		s.lags, s.firstEnd, s.lastEnd = map[int32]*reports.Series{}, map[int32]int64{}, map[int32]int64{}
	}
	for p, l := range ls {
		sr, ok := s.lags[p]
		if !ok {
			sr = &reports.Series{Name: "partition " + strconv.Itoa(int(p))}
			s.lags[p] = sr
			s.firstEnd[p] = l.end
		}
		sr.Points = append(sr.Points, reports.Point{T: now, V: float64(l.lag)})
		s.lastEnd[p] = l.end
	}
}

// series is what was sampled; call after run returned.
func (s *seriesSampler) series() *reports.TimeSeries {
	ts := &reports.TimeSeries{Offered: s.offered, Achieved: s.achieved}
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

// meanRate is the rate's mean over [a, b) from the start of a run of
// length dur (0 after it).
func meanRate(r sim.Rate, dur, a, b time.Duration) float64 {
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

// startSeries samples the run from now (the traffic starts) until the
// returned stop, which returns the series. lag is the engine's lag reader
// the run already holds (the monitor's; nil: no lag series), so the run
// keeps one admin client for it.
func (r *scenarioRun) startSeries(ctx context.Context, lag func(context.Context) (map[int32]partitionLag, error), snd *sim.Sender, ql *reports.QueryLoad, log *slog.Logger) (stop func() *reports.TimeSeries) {
	s := &seriesSampler{rate: offeredRate(r.sc), dur: r.sc.Duration, snd: snd, ql: ql, log: log, lag: lag}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(sctx)
	}()
	return func() *reports.TimeSeries {
		cancel()
		<-done
		return s.series()
	}
}
