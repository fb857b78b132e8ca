package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/countlab/countlab/reports"
)

// resourceProc is one process the resource sampler measures: its pid now
// (0: not running) and, when it can, its goroutines.
type resourceProc struct {
	name string
	pid  func() int
	// goroutines is the process's goroutine count (nil: not measurable).
	goroutines func(ctx context.Context) (int, error)
	// heapMiB is its Go heap in use (nil: not measured).
	heapMiB func() float64
}

// resourceSampler samples each process's resident memory and goroutines
// every interval while a run's traffic runs: countlab itself, the engine
// worker processes (--engine-procs) and a managed influxd. One goroutine.
type resourceSampler struct {
	procs []resourceProc
	every time.Duration
	log   *slog.Logger
	// rss reads a process's resident set size in bytes (readRSS; tests
	// replace it).
	rss func(pid int) (int64, error)

	samples map[string]*reports.ProcessSamples
	order   []string
}

// newResourceSampler is the sampler of st's processes.
func newResourceSampler(st *stack, log *slog.Logger) *resourceSampler {
	hc := &http.Client{Timeout: 900 * time.Millisecond}
	s := &resourceSampler{every: time.Second, log: log, rss: readRSS}
	self := os.Getpid()
	s.procs = append(s.procs, resourceProc{
		name:       reports.HarnessProcess,
		pid:        func() int { return self },
		goroutines: func(context.Context) (int, error) { return runtime.NumGoroutine(), nil },
		heapMiB:    heapInUseMiB,
	})
	for _, p := range st.engines {
		s.procs = append(s.procs, resourceProc{
			name: fmt.Sprintf("engine-%d", p.slot),
			pid:  p.pid,
			goroutines: func(ctx context.Context) (int, error) {
				u := p.metricsURL()
				if u == "" {
					return 0, fmt.Errorf("engine worker %d serves no metrics", p.slot)
				}
				return promGoroutines(ctx, hc, u)
			},
		})
	}
	if st.influxd != nil {
		base := st.influx.URL
		s.procs = append(s.procs, resourceProc{
			name:       "influxd",
			pid:        st.influxd.Pid,
			goroutines: func(ctx context.Context) (int, error) { return influxGoroutines(ctx, hc, base) },
		})
	}
	return s
}

// run samples every interval until ctx is done.
func (s *resourceSampler) run(ctx context.Context) {
	if s.every <= 0 {
		s.every = time.Second
	}
	t := time.NewTicker(s.every)
	defer t.Stop()
	s.sample(ctx, time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.sample(ctx, now)
		}
	}
}

// sample takes one sample of every process.
func (s *resourceSampler) sample(ctx context.Context, now time.Time) {
	if s.samples == nil {
		s.samples = map[string]*reports.ProcessSamples{}
	}
	for _, p := range s.procs {
		pid := p.pid()
		if pid <= 0 {
			continue // between a kill and its restart
		}
		rss, err := s.rss(pid)
		if err != nil {
			s.log.Debug("resident memory sample", "process", p.name, "pid", pid, "err", err)
			continue
		}
		ps, ok := s.samples[p.name]
		if !ok {
			ps = &reports.ProcessSamples{Process: p.name}
			s.samples[p.name] = ps
			s.order = append(s.order, p.name)
		}
		ps.PID = pid
		ps.RSS = append(ps.RSS, reports.Point{T: now, V: float64(rss) / (1 << 20)})
		if p.goroutines != nil {
			gctx, cancel := context.WithTimeout(ctx, s.every*9/10)
			n, err := p.goroutines(gctx)
			cancel()
			if err == nil {
				ps.Goroutines = append(ps.Goroutines, reports.Point{T: now, V: float64(n)})
			} else if ctx.Err() == nil {
				s.log.Debug("goroutines sample", "process", p.name, "err", err)
			}
		}
		if p.heapMiB != nil {
			ps.Heap = append(ps.Heap, reports.Point{T: now, V: p.heapMiB()})
		}
	}
}

// result is the fitted usage of every process sampled, and their memory
// and goroutine series for the charts.
func (s *resourceSampler) result(warmup float64) (use []reports.ResourceUsage, rss, goroutines []reports.Series) {
	for _, name := range s.order {
		ps := s.samples[name]
		use = append(use, ps.Usage(warmup))
		rss = append(rss, reports.Series{Name: name, Points: ps.RSS})
		if len(ps.Goroutines) > 0 {
			goroutines = append(goroutines, reports.Series{Name: name, Points: ps.Goroutines})
		}
	}
	return use, rss, goroutines
}

// readRSS is a process's resident set size, from /proc/PID/statm (Linux).
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, err
	}
	return parseStatm(b, os.Getpagesize())
}

// parseStatm reads the resident pages (second field) of /proc/PID/statm.
func parseStatm(b []byte, pageSize int) (int64, error) {
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("statm: %q: want at least 2 fields", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("statm: %w", err)
	}
	return pages * int64(pageSize), nil
}

// heapInUseMiB is this process's Go heap in use (runtime/metrics: heap
// objects, live and not yet swept).
func heapInUseMiB() float64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return float64(s[0].Value.Uint64()) / (1 << 20)
}

// promGoroutines reads go_goroutines from a Prometheus text endpoint.
func promGoroutines(ctx context.Context, hc *http.Client, url string) (int, error) {
	b, err := httpGet(ctx, hc, url)
	if err != nil {
		return 0, err
	}
	return parsePromGauge(b, "go_goroutines")
}

// parsePromGauge is the value of an unlabelled metric in Prometheus text
// exposition.
func parsePromGauge(b []byte, name string) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		return int(v), nil
	}
	return 0, fmt.Errorf("no %s in the metrics", name)
}

// influxGoroutines reads an InfluxDB 1.x's goroutines from GET
// /debug/vars (its "runtime" statistics, served without pprof).
func influxGoroutines(ctx context.Context, hc *http.Client, base string) (int, error) {
	v, err := influxVars(ctx, hc, base)
	if err != nil {
		return 0, err
	}
	n, ok := v.value("runtime", "NumGoroutine")
	if !ok {
		return 0, fmt.Errorf("no runtime NumGoroutine in %s/debug/vars", base)
	}
	return int(n), nil
}

// debugVars is InfluxDB 1.x's /debug/vars: statistics by name, each with
// its values.
type debugVars map[string]json.RawMessage

// influxVars fetches base/debug/vars.
func influxVars(ctx context.Context, hc *http.Client, base string) (debugVars, error) {
	b, err := httpGet(ctx, hc, strings.TrimSuffix(base, "/")+"/debug/vars")
	if err != nil {
		return nil, err
	}
	var v debugVars
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("/debug/vars: %w", err)
	}
	return v, nil
}

// value is the field of the first statistic whose key is stat or starts
// with stat+":" (httpd statistics are keyed httpd:BIND).
func (v debugVars) value(stat, field string) (float64, bool) {
	for k, raw := range v {
		if k != stat && !strings.HasPrefix(k, stat+":") {
			continue
		}
		var st struct {
			Values map[string]float64 `json:"values"`
		}
		if json.Unmarshal(raw, &st) != nil {
			continue
		}
		if f, ok := st.Values[field]; ok {
			return f, true
		}
	}
	return 0, false
}

// httpGet is the body of a 200 answer to GET url.
func httpGet(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, nil
}

// startResources samples st's processes from now until the returned stop,
// which returns the fitted usage and the series.
func (r *scenarioRun) startResources(ctx context.Context, st *stack, log *slog.Logger) (stop func() ([]reports.ResourceUsage, []reports.Series, []reports.Series)) {
	s := newResourceSampler(st, log)
	warmup := r.sc.SLO.ResourceWarmup
	if warmup <= 0 {
		warmup = reports.DefaultWarmup
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(sctx)
	}()
	return func() ([]reports.ResourceUsage, []reports.Series, []reports.Series) {
		cancel()
		<-done
		return s.result(warmup)
	}
}

// printSaturationAndResources prints the run's saturation verdict and
// each process's memory and goroutines: with their growth a line each
// when the scenario bounds growth (slopes), else one line of start -> end
// (slopes fitted over a short run say little; report.json has them).
func printSaturationAndResources(w io.Writer, rep *reports.Report, slopes bool) {
	if rep.Saturation != nil {
		fmt.Fprintf(w, "  saturation: %s\n", rep.Saturation.Text())
	}
	if !slopes {
		parts := make([]string, 0, len(rep.Resources))
		for _, u := range rep.Resources {
			parts = append(parts, fmt.Sprintf("%s %.0f -> %.0f MiB", u.Process, u.RSSMiBStart, u.RSSMiBEnd))
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "  resident memory: %s\n", strings.Join(parts, ", "))
		}
		return
	}
	for _, u := range rep.Resources {
		g := ""
		if u.GoroutinesMeasured {
			g = fmt.Sprintf(", goroutines %d -> %d (%+.0f/h)", u.GoroutinesStart, u.GoroutinesEnd, u.GoroutineSlopePerH)
		}
		fmt.Fprintf(w, "  resources %s (pid %d): RSS %.0f -> %.0f MiB (%+.1f MiB/h)%s\n", u.Process, u.PID, u.RSSMiBStart, u.RSSMiBEnd, u.RSSSlopeMiBPerH, g)
	}
}
