package probe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"

	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/reports"
)

// resourceSampler samples each process's resident memory and goroutines
// on every tick while a run's traffic runs: countlab itself, the engine
// worker processes and a managed influxd.
type resourceSampler struct {
	procs []stack.Process

	samples map[string]*reports.ProcessSamples
	order   []string
}

// newResourceSampler is the sampler of procs (those not CPUOnly).
func newResourceSampler(procs []stack.Process) *resourceSampler {
	return &resourceSampler{procs: procs, samples: map[string]*reports.ProcessSamples{}}
}

// sample adds one tick's reading of every process.
func (s *resourceSampler) sample(r *reading) {
	for i, p := range s.procs {
		pr := r.procs[i]
		if p.CPUOnly || !pr.statOK {
			continue
		}
		ps, ok := s.samples[p.Name]
		if !ok {
			ps = &reports.ProcessSamples{Process: p.Name}
			s.samples[p.Name] = ps
			s.order = append(s.order, p.Name)
		}
		ps.PID = pr.pid
		ps.RSS = append(ps.RSS, reports.Point{T: r.now, V: float64(pr.stat.rssBytes) / (1 << 20)})
		if pr.gorOK {
			ps.Goroutines = append(ps.Goroutines, reports.Point{T: r.now, V: float64(pr.goroutines)})
		}
		if p.Self {
			ps.Heap = append(ps.Heap, reports.Point{T: r.now, V: pr.heapMiB})
			ps.LiveHeap = append(ps.LiveHeap, reports.Point{T: r.now, V: pr.liveMiB})
		}
	}
}

// goroutines is process p's goroutine count: runtime's for this one,
// go_goroutines of its metrics, or InfluxDB's runtime statistics.
func (p *Probes) goroutines(ctx context.Context, pr stack.Process) (int, error) {
	switch {
	case pr.Self:
		return runtime.NumGoroutine(), nil
	case pr.MetricsURL != nil:
		u := pr.MetricsURL()
		if u == "" {
			return 0, fmt.Errorf("%s serves no metrics", pr.Name)
		}
		return promGoroutines(ctx, p.hc, u)
	case pr.InfluxURL != "":
		return influxGoroutines(ctx, p.hc, pr.InfluxURL)
	}
	return 0, fmt.Errorf("%s: goroutines not measurable", pr.Name)
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

// heapMiB is this process's Go heap in use (runtime/metrics: heap
// objects, live and not yet swept) and its heap live at the last
// collection (/gc/heap/live:bytes), in MiB (0: not known).
func heapMiB() (inUse, live float64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	mib := func(v metrics.Value) float64 {
		if v.Kind() != metrics.KindUint64 {
			return 0
		}
		return float64(v.Uint64()) / (1 << 20)
	}
	return mib(s[0].Value), mib(s[1].Value)
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

// PrintSaturationAndResources prints the run's saturation verdict and
// each process's memory and goroutines: with their growth a line each
// when the scenario bounds growth (slopes), else one line of start -> end
// (slopes fitted over a short run say little; report.json has them).
func PrintSaturationAndResources(w io.Writer, rep *reports.Report, slopes bool) {
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
		live := ""
		if u.LiveHeapMiBEnd > 0 {
			live = fmt.Sprintf(", live heap %.0f -> %.0f MiB (%+.1f MiB/h)", u.LiveHeapMiBStart, u.LiveHeapMiBEnd, u.LiveHeapSlopeMiBPerH)
		}
		fmt.Fprintf(w, "  resources %s (pid %d): RSS %.0f -> %.0f MiB (%+.1f MiB/h)%s%s\n", u.Process, u.PID, u.RSSMiBStart, u.RSSMiBEnd, u.RSSSlopeMiBPerH, live, g)
	}
}
