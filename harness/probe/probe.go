// Package probe samples a run while its traffic flows, on ONE tick (every
// second by default): each tick reads /proc once per process, the
// consumer lag once (one stack.LagReader), InfluxDB's /debug/vars and the
// gateway's metrics once, and hands that one reading to every sampler:
//
//   - series: offered and achieved events a second, latency percentiles,
//     lag per partition (report.json's series);
//   - saturation: every stage's saturation signal and the rules of the
//     scenario's saturation section;
//   - resources: each process's memory and goroutines, their growth;
//   - CPU: each process's CPU time, the countlab process's split by stage;
//   - monitor: the live probes (reports.Probes), the scenario's abort
//     conditions and the steady state before the first fault.
//
// What the probes read comes from Sources, which the embedded stack
// fills (harness/run) and another target may fill in part.
package probe

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
)

// Set is a set of samplers.
type Set uint8

// The samplers.
const (
	Series Set = 1 << iota
	Saturation
	Resources
	CPU
	Monitor
	All = Series | Saturation | Resources | CPU | Monitor
)

// LagSource reads the consumer lag (stack.LagReader). Read may return a
// reading a few hundred milliseconds old.
type LagSource interface {
	Read(ctx context.Context) (stack.Lags, error)
}

// Sources are what the probes read. Every field may be zero: that probe
// then has nothing to say.
type Sources struct {
	// Lag is the engine's and the sink's consumer lag.
	Lag LagSource
	// Processes are the processes measured (memory, goroutines, CPU).
	Processes []stack.Process
	// Gateway is the ingest gateway's registry (throttled share, produce
	// acknowledgement p99).
	Gateway prometheus.Gatherer
	// InfluxURL is an InfluxDB 1.x base URL (write duration from
	// /debug/vars).
	InfluxURL string
	// Sink is the registry with the sink's counters (totals and points
	// written, for the CPU block).
	Sink prometheus.Gatherer
	// Notes are added to the CPU block (what is not measured).
	Notes []string
}

// Config configures the probes of one run (or one plan trial).
type Config struct {
	// Scenario is the run's scenario: abort conditions, steady state,
	// saturation rules, tracers, the resource warm-up. Required.
	Scenario *scenarios.Scenario
	// Rate is the offered rate over time (default: the scenario's) and
	// Duration the schedule's length (default: the scenario's).
	Rate     sim.Rate
	Duration time.Duration
	// Every is the tick (default 1s).
	Every time.Duration
	// Sampled are the samplers that run (default All).
	Sampled Set
	// Log is where sampling problems are logged at debug level.
	Log *slog.Logger
}

// Probes are the samplers of one run, driven by one tick.
type Probes struct {
	cfg Config
	src Sources
	hc  *http.Client
	// stat reads a process's /proc/PID/stat (readProcStat; tests
	// replace it).
	stat func(pid int) (procStat, error)

	series *seriesSampler
	sat    *saturationSampler
	res    *resourceSampler
	cpu    *cpuMeter
	mon    *monitor

	stop func()
	done chan struct{}
	// selfRSS is countlab's own resident memory at the last tick, in
	// bytes (0 before the first; Status).
	selfRSS atomic.Int64
	// selfLive is its Go heap live at the last collection, in MiB (0:
	// not known).
	selfLive atomic.Int64
}

// New is the probes of a run; ctx bounds the traffic context (Traffic).
// Start them when the traffic starts.
func New(ctx context.Context, cfg Config, src Sources) *Probes {
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	if cfg.Sampled == 0 {
		cfg.Sampled = All
	}
	if cfg.Rate == nil {
		cfg.Rate = cfg.Scenario.RateFunc()
	}
	if cfg.Duration <= 0 {
		cfg.Duration = cfg.Scenario.Duration
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	p := &Probes{cfg: cfg, src: src, hc: &http.Client{Timeout: cfg.Every * 9 / 10}, stat: readProcStat}
	p.mon = newMonitor(ctx, cfg.Scenario, cfg.Log)
	if cfg.Sampled&Series != 0 {
		p.series = &seriesSampler{rate: cfg.Rate, dur: cfg.Duration, every: cfg.Every}
	}
	if cfg.Sampled&Saturation != 0 {
		p.sat = newSaturation(cfg.Scenario, cfg.Rate, cfg.Duration, cfg.Every)
	}
	if cfg.Sampled&Resources != 0 {
		p.res = newResourceSampler(src.Processes)
	}
	if cfg.Sampled&CPU != 0 {
		p.cpu = newCPUMeter(src, cfg.Rate, cfg.Duration)
	}
	return p
}

// Wrap times the requests of tr (the sender's transport), for the
// saturation sampler; tr itself without it.
func (p *Probes) Wrap(tr sim.Transport) sim.Transport {
	if p.sat == nil {
		return tr
	}
	return p.sat.wrap(tr, p.cfg.Scenario.Traffic.Connections)
}

// OnAck records an acknowledgement's latency (intended send time at,
// acknowledged now) for the monitor.
func (p *Probes) OnAck(at, now time.Time) { p.mon.onAck(at, now) }

// Traffic is the context the sender and the fault schedule run with:
// cancelled when the run aborts (or Close).
func (p *Probes) Traffic() context.Context { return p.mon.traffic }

// Start samples snd (and ql, when not nil) on every tick from now (the
// traffic's start) until Stop.
func (p *Probes) Start(snd *sim.Sender, ql *reports.QueryLoad) {
	now := time.Now()
	p.mon.begin(now, snd)
	if p.series != nil {
		p.series.begin(now, snd, ql)
	}
	if p.sat != nil {
		p.sat.begin(now, p.src.Gateway)
	}
	if p.cpu != nil {
		p.cpu.begin(now)
	}
	ctx, cancel := context.WithCancel(p.mon.traffic)
	p.stop, p.done = cancel, make(chan struct{})
	first := p.read(ctx, now, snd, false)
	if p.sat != nil {
		p.sat.first(first)
	}
	if p.cpu != nil {
		p.cpu.sample(first)
	}
	if p.res != nil {
		p.res.sample(first)
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.cfg.Every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				p.tick(p.read(ctx, now, snd, false))
			}
		}
	}()
}

// tick hands one reading to every sampler.
func (p *Probes) tick(r *reading) {
	if p.cfg.Sampled&Monitor != 0 {
		p.mon.sample(r)
	}
	if p.series != nil {
		p.series.sample(r)
	}
	if p.sat != nil {
		p.sat.sample(r)
	}
	if p.res != nil {
		p.res.sample(r)
	}
	for i, pr := range p.src.Processes {
		if pr.Self && r.procs[i].statOK {
			p.selfRSS.Store(int64(r.procs[i].stat.rssBytes))
			p.selfLive.Store(int64(r.procs[i].liveMiB))
		}
	}
	if p.cpu != nil {
		p.cpu.sample(r)
	}
}

// Status is the live progress line's part of the probes: countlab's own
// resident memory at the last tick ("" before the first), the figure a
// long run is held to.
func (p *Probes) Status() string {
	rss := p.selfRSS.Load()
	if rss == 0 {
		return ""
	}
	if live := p.selfLive.Load(); live > 0 {
		return fmt.Sprintf("countlab rss %d MiB (live heap %d)", rss>>20, live)
	}
	return fmt.Sprintf("countlab rss %d MiB", rss>>20)
}

// Result is what the samplers measured.
type Result struct {
	Series     *reports.TimeSeries
	Saturation *reports.Saturation
	Resources  []reports.ResourceUsage
	CPU        *reports.CPU
}

// Stop stops the tick (call it when the traffic ended), takes a last
// reading of the partial interval for the series and the CPU, and returns
// what was measured; acked is the events acknowledged over the traffic.
func (p *Probes) Stop(snd *sim.Sender) Result {
	if p.stop == nil {
		return Result{}
	}
	p.stop()
	<-p.done
	p.stop = nil
	last := p.read(context.Background(), time.Now(), snd, true)
	var res Result
	if p.series != nil {
		p.series.sample(last)
		res.Series = p.series.result()
	}
	if p.sat != nil {
		res.Saturation = p.sat.result()
	}
	if p.res != nil {
		warmup := p.cfg.Scenario.SLO.ResourceWarmup
		if warmup <= 0 {
			warmup = reports.DefaultWarmup
		}
		var rss, gor []reports.Series
		res.Resources, rss, gor = p.res.result(warmup)
		if res.Series != nil {
			res.Series.RSS, res.Series.Goroutines = rss, gor
		}
	}
	if p.cpu != nil {
		p.cpu.sample(last)
		res.CPU = p.cpu.result(last.now, snd.Progress().Acked)
	}
	return res
}

// Close cancels the traffic context.
func (p *Probes) Close() { p.mon.stop() }

// SteadyState is the faults.Schedule's SteadyState hook (monitor.go).
func (p *Probes) SteadyState(ctx context.Context) error { return p.mon.steadyState(ctx) }

// AbortNow aborts the run at once for a reason found outside the probes
// (a rolling check's lost acknowledged event): the traffic stops.
func (p *Probes) AbortNow(cond, reason string) { p.mon.abortNow(cond, reason) }

// Aborted reports whether the run aborted.
func (p *Probes) Aborted() bool { return p.mon.isAborted() }

// Verdicts are the run's abort, steady state and live samples.
func (p *Probes) Verdicts() (*reports.Aborted, *reports.SteadyState, []reports.ProbeSample) {
	return p.mon.result()
}

// reading is one tick's reading of everything the samplers look at.
type reading struct {
	now   time.Time
	final bool // the last, partial interval (Stop)
	prog  sim.Progress

	lags  stack.Lags
	lagOK bool

	procs []procReading // one per Sources.Processes

	machine   cpuTimes
	machineOK bool
	// rotated: the CPU meter's interval ends at this reading, its
	// profile's samples over it are samples (cpu.go).
	rotated  bool
	samples  map[string]int64
	influx   influxWrites
	influxOK bool
}

// procReading is one process's reading.
type procReading struct {
	pid        int
	stat       procStat
	statOK     bool
	goroutines int
	gorOK      bool
	heapMiB    float64
	liveMiB    float64
}

// read takes one reading: /proc once per process, the machine's CPU
// times; then the lag, InfluxDB's statistics and each process's
// goroutines concurrently, each bounded by most of a tick.
func (p *Probes) read(ctx context.Context, now time.Time, snd *sim.Sender, final bool) *reading {
	r := &reading{now: now, final: final, prog: snd.Progress(), procs: make([]procReading, len(p.src.Processes))}
	for i, pr := range p.src.Processes {
		pid := pr.PID()
		r.procs[i].pid = pid
		if pid <= 0 {
			continue // between a kill and its restart
		}
		st, err := p.stat(pid)
		if err != nil {
			p.cfg.Log.Debug("process sample", "process", pr.Name, "pid", pid, "err", err)
			continue
		}
		r.procs[i].stat, r.procs[i].statOK = st, true
		if pr.Self {
			r.procs[i].heapMiB, r.procs[i].liveMiB = heapMiB()
		}
	}
	if final {
		if p.cpu != nil {
			r.samples, _ = p.cpu.rotate(true)
			r.rotated = true
		}
		return r
	}
	if p.sat != nil {
		r.machine, r.machineOK = readCPUTimes()
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Every*9/10)
	defer cancel()
	var wg sync.WaitGroup
	if p.cpu != nil && p.cpu.due(now) {
		// Cut the profile now, beside the /proc reads above (stopping
		// takes ~0.1 s: beside the other reads, not before them).
		r.rotated = true
		wg.Go(func() { r.samples, _ = p.cpu.rotate(false) })
	}
	if p.src.Lag != nil && p.cfg.Sampled&(Series|Saturation|Monitor) != 0 {
		wg.Go(func() {
			var err error
			if r.lags, err = p.src.Lag.Read(ctx); err == nil {
				r.lagOK = true
			} else if ctx.Err() == nil {
				p.cfg.Log.Debug("consumer lag sample", "err", err)
			}
		})
	}
	if p.sat != nil && p.src.InfluxURL != "" {
		wg.Go(func() { r.influx, r.influxOK = p.influxWrites(ctx) })
	}
	if p.res != nil {
		for i, pr := range p.src.Processes {
			if pr.CPUOnly || r.procs[i].pid <= 0 {
				continue
			}
			wg.Go(func() {
				n, err := p.goroutines(ctx, pr)
				if err == nil {
					r.procs[i].goroutines, r.procs[i].gorOK = n, true
				} else if ctx.Err() == nil {
					p.cfg.Log.Debug("goroutines sample", "process", pr.Name, "err", err)
				}
			})
		}
	}
	wg.Wait()
	return r
}
