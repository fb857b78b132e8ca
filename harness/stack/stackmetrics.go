package stack

// The stack's one Prometheus endpoint (--metrics-listen of up and run):
// the metrics of every part, merged: countlab's own process (Go runtime,
// RSS), the gateway, the query service, the sink and every engine worker
// (in-process ones from their registries, worker processes scraped from
// their own endpoints), each worker's series labelled worker="SLOT".

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// stackMetrics gathers every part of a stack. The zero value is not
// usable; see newStackMetrics. It is safe for concurrent use.
type stackMetrics struct {
	// own holds countlab's process metrics and the sink's.
	own *prometheus.Registry

	mu      sync.Mutex
	parts   []prometheus.Gatherer       // gateway, query: countlab_* families only
	engines map[int]prometheus.Gatherer // in-process worker slot -> its registry
	procs   func() []*workerProc        // worker processes, scraped
	hc      *http.Client
}

// ProcessRegistry is a registry with the Go runtime and process
// collectors (goroutines, heap, RSS, CPU).
func ProcessRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func newStackMetrics() *stackMetrics {
	return &stackMetrics{own: ProcessRegistry(), engines: map[int]prometheus.Gatherer{}, hc: &http.Client{Timeout: 2 * time.Second}}
}

// addPart adds a part's registry; only its countlab_* families are served
// (the Go and process collectors are countlab's own, served once).
func (m *stackMetrics) addPart(g prometheus.Gatherer) {
	m.mu.Lock()
	m.parts = append(m.parts, g)
	m.mu.Unlock()
}

// setEngine sets the registry of in-process worker slot (again after a
// restart: the new worker has a new registry).
func (m *stackMetrics) setEngine(slot int, g prometheus.Gatherer) {
	m.mu.Lock()
	m.engines[slot] = g
	m.mu.Unlock()
}

// Gather implements prometheus.Gatherer. A worker process that does not
// answer (killed by a fault, restarting) is left out, not an error.
func (m *stackMetrics) Gather() ([]*dto.MetricFamily, error) {
	byName := map[string]*dto.MetricFamily{}
	add := func(fams []*dto.MetricFamily, onlyOurs bool, label *dto.LabelPair) {
		for _, f := range fams {
			if onlyOurs && !strings.HasPrefix(f.GetName(), "countlab_") {
				continue
			}
			if label != nil {
				for _, mt := range f.Metric {
					mt.Label = append(mt.Label, label)
					sort.Slice(mt.Label, func(i, j int) bool { return mt.Label[i].GetName() < mt.Label[j].GetName() })
				}
			}
			if have, ok := byName[f.GetName()]; ok {
				have.Metric = append(have.Metric, f.Metric...)
				continue
			}
			byName[f.GetName()] = f
		}
	}
	fams, err := m.own.Gather()
	if err != nil {
		return nil, err
	}
	add(fams, false, nil)
	m.mu.Lock()
	parts := slices.Clone(m.parts)
	engines := make(map[int]prometheus.Gatherer, len(m.engines))
	for k, v := range m.engines {
		engines[k] = v
	}
	procs := m.procs
	m.mu.Unlock()
	for _, g := range parts {
		fams, err := g.Gather()
		if err != nil {
			return nil, err
		}
		add(fams, true, nil)
	}
	for slot, g := range engines {
		fams, err := g.Gather()
		if err != nil {
			return nil, err
		}
		add(fams, true, workerLabel(slot))
	}
	if procs != nil {
		for _, p := range procs() {
			if fams, err := m.scrape(p.metricsURL()); err == nil {
				add(fams, false, workerLabel(p.slot)) // its process_* and go_* too
			}
		}
	}
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, f := range byName {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

func workerLabel(slot int) *dto.LabelPair {
	name, value := "worker", strconv.Itoa(slot)
	return &dto.LabelPair{Name: &name, Value: &value}
}

// scrape reads the text exposition at url.
func (m *stackMetrics) scrape(url string) ([]*dto.MetricFamily, error) {
	if url == "" {
		return nil, fmt.Errorf("no endpoint yet")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	byName, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, f := range byName {
		out = append(out, f)
	}
	return out, nil
}
