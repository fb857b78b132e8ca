package probe

import (
	"context"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
)

// saturationSampler samples every stage's saturation signal once a second
// while the traffic runs (reports.SaturationSample), and evaluates the
// scenario's saturation rules on them at the end:
//
//   - generator: how far the sender is behind its schedule (intended sends
//     not yet generated) and how busy its connections are;
//   - gateway: the share of requests answered 429/503 (its metrics) and the
//     request round trip measured around the transport;
//   - broker: the gateway's Kafka produce-acknowledgement p99 (with via:
//     kafka, the sender's own produce round trip);
//   - engine and sink: their consumer groups' lag on events and aggregates;
//   - sink: InfluxDB's mean write request duration (InfluxDB 1.x
//     /debug/vars).
type saturationSampler struct {
	sc    *scenarios.Scenario
	rate  sim.Rate
	dur   time.Duration
	every time.Duration
	tr    *timedTransport
	gw    prometheus.Gatherer // nil: no gateway (via: kafka)

	t0, prevT          time.Time
	prevAcked          int64
	intended           float64
	prevGW             gatewayCounts
	prevInflux         influxWrites
	prevCPU            cpuTimes
	prevLag            stack.Lags
	haveGW, haveInflux bool
	haveLag            bool

	samples []reports.SaturationSample
}

// newSaturation is the sampler of a run of sc.
func newSaturation(sc *scenarios.Scenario, rate sim.Rate, dur, every time.Duration) *saturationSampler {
	return &saturationSampler{sc: sc, rate: rate, dur: dur, every: every}
}

// wrap times the requests of tr (the sender's transport) over conns
// connections.
func (s *saturationSampler) wrap(tr sim.Transport, conns int) sim.Transport {
	now := time.Now()
	s.tr = &timedTransport{Transport: tr, conns: conns, h: sim.NewHistogram(), last: now, since: now}
	return s.tr
}

// begin starts the samples at now (the traffic's start); gw is the
// gateway's registry (nil: none, or traffic straight to Kafka).
func (s *saturationSampler) begin(now time.Time, gw prometheus.Gatherer) {
	if s.sc.Traffic.Via != "kafka" {
		s.gw = gw
	}
	s.t0, s.prevT = now, now
	if s.gw != nil {
		s.prevGW, s.haveGW = scrapeGateway(s.gw)
	}
	if s.tr != nil {
		s.tr.take(now)
	}
}

// first takes the baselines of the first reading.
func (s *saturationSampler) first(r *reading) {
	s.prevInflux, s.haveInflux = r.influx, r.influxOK
	s.prevCPU = r.machine
}

// result evaluates the scenario's saturation rules on the samples.
func (s *saturationSampler) result() *reports.Saturation {
	sa := s.sc.Saturation
	return reports.EvaluateSaturation(s.samples, reports.SaturationRules{
		Sustain: sa.Sustain, SenderLagMS: sa.SenderLagMS, SenderBusy: sa.SenderBusy, ThrottledShare: sa.ThrottledShare,
		RequestP99MS: sa.RequestP99MS, ProduceP99MS: sa.ProduceP99MS, GrowFor: sa.GrowFor, EngineLagS: sa.EngineLagS,
		SinkLagS: sa.SinkLagS, MinLagRecords: sa.MinLagRecords, InfluxWriteMS: sa.InfluxWriteMS,
	})
}

// sample adds one tick's reading.
func (s *saturationSampler) sample(r *reading) {
	now := r.now
	el := now.Sub(s.prevT)
	if el < s.every/10 {
		return
	}
	viaKafka := s.sc.Traffic.Via == "kafka"
	a, b := s.prevT.Sub(s.t0), now.Sub(s.t0)
	smp := reports.SaturationSample{T: now, AtS: b.Seconds(), Offered: MeanRate(s.rate, s.dur, a, b),
		RequestP99MS: math.NaN(), Throttled: math.NaN(), ProduceP99MS: math.NaN(), EngineLag: math.NaN(), SinkLag: math.NaN(),
		InfluxWriteMS: math.NaN(), CPUBusy: math.NaN(), SenderBusy: math.NaN()}
	p := r.prog
	smp.Achieved = float64(p.Acked-s.prevAcked) / el.Seconds()
	s.prevAcked = p.Acked
	// Generator: intended sends so far against those generated (less
	// the tracers, which are not on the schedule).
	s.intended += smp.Offered * el.Seconds()
	gen := float64(p.Generated - tracersBy(b, s.sc.Probes.TracerEvery))
	if rt := s.rate.At(min(b, s.dur-time.Nanosecond)); rt > 0 {
		smp.SenderLagMS = max(s.intended-gen, 0) / rt * 1000
	}
	if s.tr != nil {
		busy, h := s.tr.take(now)
		smp.SenderBusy = busy
		if h.TotalCount() > 0 {
			p99 := float64(h.ValueAtQuantile(99)) / 1000
			if viaKafka {
				smp.ProduceP99MS = p99 // the sender's produce is the broker's answer
			} else {
				smp.RequestP99MS = p99
			}
		}
	}
	if s.gw != nil {
		if cur, ok := scrapeGateway(s.gw); ok {
			if s.haveGW {
				smp.Throttled, smp.ProduceP99MS = cur.since(s.prevGW)
			}
			s.prevGW, s.haveGW = cur, true
		}
	}
	smp.EventsIn, smp.AggregatesIn = math.NaN(), math.NaN()
	if r.lagOK {
		cur := r.lags
		smp.EngineLag, smp.SinkLag = float64(cur.Engine), float64(cur.Sink)
		if s.haveLag {
			if dt := cur.At.Sub(s.prevLag.At).Seconds(); dt > 0 {
				smp.EventsIn = float64(cur.EventsEnd-s.prevLag.EventsEnd) / dt
				smp.AggregatesIn = float64(cur.AggregatesEnd-s.prevLag.AggregatesEnd) / dt
			}
		}
		s.prevLag, s.haveLag = cur, true
	}
	if r.influxOK {
		cur := r.influx
		if s.haveInflux && cur.reqs > s.prevInflux.reqs {
			smp.InfluxWriteMS = (cur.durNs - s.prevInflux.durNs) / (cur.reqs - s.prevInflux.reqs) / 1e6
		}
		s.prevInflux, s.haveInflux = cur, true
	}
	if r.machineOK {
		smp.CPUBusy = r.machine.busySince(s.prevCPU)
		s.prevCPU = r.machine
	}
	s.samples = append(s.samples, smp)
	s.prevT = now
}

// tracersBy is the number of tracer events the sender generated by el
// (one every te, the first at te/2).
func tracersBy(el, te time.Duration) int64 {
	if te <= 0 || el < te/2 {
		return 0
	}
	return int64((el-te/2)/te) + 1
}

// timedTransport times a transport's requests: their round trip (without
// the wait for a free connection) and how busy the connections are.
type timedTransport struct {
	sim.Transport
	conns int

	mu       sync.Mutex
	h        *hdrhistogram.Histogram // round trips (µs) since the last take
	inflight int
	last     time.Time     // the last change of inflight
	since    time.Time     // the start of the interval
	area     time.Duration // connection-time busy since the last take
}

// Send implements sim.Transport.
func (t *timedTransport) Send(ctx context.Context, items []sim.Item, out []sim.Outcome) error {
	start := time.Now()
	t.change(start, 1, 0)
	err := t.Transport.Send(ctx, items, out)
	end := time.Now()
	t.change(end, -1, end.Sub(start))
	return err
}

func (t *timedTransport) change(now time.Time, d int, took time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.area += time.Duration(t.inflight) * now.Sub(t.last)
	t.last = now
	t.inflight += d
	if took > 0 {
		_ = t.h.RecordValue(max(1, took.Microseconds()))
	}
}

// take returns the busy share of the connections and the round trips
// since the previous take, and starts a new interval.
func (t *timedTransport) take(now time.Time) (busy float64, h *hdrhistogram.Histogram) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.area += time.Duration(t.inflight) * now.Sub(t.last)
	t.last = now
	span := now.Sub(t.since)
	t.since = now
	if span > 0 && t.conns > 0 {
		busy = min(float64(t.area)/float64(span)/float64(t.conns), 1)
	}
	h, t.h = t.h, sim.NewHistogram()
	t.area = 0
	return busy, h
}

// gatewayCounts are the gateway's cumulative request counts and produce
// acknowledgement histogram.
type gatewayCounts struct {
	requests, throttled float64
	bounds              []float64 // seconds
	cum                 []uint64  // cumulative count at each bound
	count               uint64
}

// scrapeGateway reads the gateway's metrics.
func scrapeGateway(g prometheus.Gatherer) (gatewayCounts, bool) {
	mfs, err := g.Gather()
	if err != nil {
		return gatewayCounts{}, false
	}
	var c gatewayCounts
	for _, mf := range mfs {
		switch mf.GetName() {
		case "countlab_gateway_requests_total":
			for _, m := range mf.GetMetric() {
				v := m.GetCounter().GetValue()
				c.requests += v
				if code := labelValue(m, "code"); code == "429" || code == "503" {
					c.throttled += v
				}
			}
		case "countlab_gateway_produce_ack_seconds":
			if ms := mf.GetMetric(); len(ms) > 0 {
				h := ms[0].GetHistogram()
				c.count = h.GetSampleCount()
				for _, b := range h.GetBucket() {
					c.bounds = append(c.bounds, b.GetUpperBound())
					c.cum = append(c.cum, b.GetCumulativeCount())
				}
			}
		}
	}
	return c, true
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// since is the share of requests throttled and the produce p99 (ms) of
// the interval from prev to c (NaN when nothing happened).
func (c gatewayCounts) since(prev gatewayCounts) (throttled, p99 float64) {
	throttled, p99 = math.NaN(), math.NaN()
	if d := c.requests - prev.requests; d > 0 {
		throttled = (c.throttled - prev.throttled) / d
	}
	n := c.count - prev.count
	if prev.count > c.count || n == 0 || len(c.bounds) == 0 || len(prev.cum) != len(c.cum) {
		return throttled, p99
	}
	// As Prometheus's histogram_quantile: linear within the bucket the
	// rank falls in.
	rank := 0.99 * float64(n)
	var below, lower float64
	for i, b := range c.bounds {
		in := float64(c.cum[i] - prev.cum[i])
		if in >= rank {
			if in == below {
				return throttled, b * 1000
			}
			return throttled, (lower + (b-lower)*(rank-below)/(in-below)) * 1000
		}
		below, lower = in, b
	}
	// Beyond the last bucket: at least twice its bound.
	return throttled, 2 * c.bounds[len(c.bounds)-1] * 1000
}

// influxWrites are InfluxDB's cumulative write requests and their
// duration.
type influxWrites struct{ reqs, durNs float64 }

func (p *Probes) influxWrites(ctx context.Context) (influxWrites, bool) {
	v, err := influxVars(ctx, p.hc, p.src.InfluxURL)
	if err != nil {
		return influxWrites{}, false
	}
	reqs, ok1 := v.value("httpd", "writeReq")
	dur, ok2 := v.value("httpd", "writeReqDurationNs")
	return influxWrites{reqs: reqs, durNs: dur}, ok1 && ok2
}

// cpuTimes are the machine's CPU times from /proc/stat, in ticks.
type cpuTimes struct{ busy, total float64 }

func readCPUTimes() (cpuTimes, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, false
	}
	return parseCPUTimes(string(b))
}

// parseCPUTimes reads the "cpu" line: idle and iowait are not busy.
func parseCPUTimes(stat string) (cpuTimes, bool) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return cpuTimes{}, false
	}
	var c cpuTimes
	for i, x := range f[1:] {
		v, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return cpuTimes{}, false
		}
		if i >= 8 {
			break // guest times are already in user and nice
		}
		c.total += v
		if i != 3 && i != 4 {
			c.busy += v
		}
	}
	return c, true
}

func (c cpuTimes) busySince(prev cpuTimes) float64 {
	if d := c.total - prev.total; d > 0 {
		return (c.busy - prev.busy) / d
	}
	return math.NaN()
}
