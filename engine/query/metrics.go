package query

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus metrics, on its own registry.
type metrics struct {
	reg           *prometheus.Registry
	latency       *prometheus.HistogramVec // endpoint
	requests      *prometheus.CounterVec   // endpoint, code
	cacheHits     *prometheus.CounterVec   // cache
	cacheMisses   *prometheus.CounterVec   // cache
	answers       *prometheus.CounterVec   // source
	influxErrors  prometheus.Counter
	influxSeconds prometheus.Histogram
	records       prometheus.Counter
	badRecords    prometheus.Counter
	ready         prometheus.Gauge
	windows       prometheus.Gauge
	cells         prometheus.Gauge
	// pendingWindows are windows read from the topic that InfluxDB may not
	// hold yet (their InfluxDB answers are not cached).
	pendingWindows prometheus.Gauge

	// Children of the vectors for the hot path, looked up once.
	topHits, topMisses       prometheus.Counter
	stableHits, stableMisses prometheus.Counter
	answerBy                 map[string]prometheus.Counter // source

	incUpdates, incFull, incResets prometheus.Counter
}

// answer counts an answer from source.
func (m *metrics) answer(source string) {
	if c, ok := m.answerBy[source]; ok {
		c.Inc()
		return
	}
	m.answers.WithLabelValues(source).Inc()
}

func newMetrics() *metrics {
	const ns, sub = "countlab", "query"
	m := &metrics{
		reg: prometheus.NewRegistry(),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "request_duration_seconds",
			Help:    "Time to answer a request, by endpoint.",
			Buckets: []float64{.0001, .00025, .0005, .001, .002, .004, .008, .016, .032, .064, .128, .256, .512, 1, 2, 5},
		}, []string{"endpoint"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "requests_total",
			Help: "Requests answered, by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "cache_hits_total",
			Help: "Result cache hits, by cache (top: merged in-memory top-N; influx: InfluxDB answers).",
		}, []string{"cache"}),
		cacheMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "cache_misses_total",
			Help: "Result cache misses, by cache.",
		}, []string{"cache"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "answers_total",
			Help: "Answers by source: memory, influx or mixed.",
		}, []string{"source"}),
		influxErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "influx_errors_total",
			Help: "Failed InfluxDB queries (errors and timeouts).",
		}),
		influxSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "influx_query_duration_seconds",
			Help:    "Time of InfluxDB queries.",
			Buckets: prometheus.ExponentialBuckets(.001, 2, 14),
		}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "records_total",
			Help: "Window totals read from the aggregates topic.",
		}),
		badRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "bad_records_total",
			Help: "Aggregates records that did not decode as window totals.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "ready",
			Help: "1 once the aggregates topic has been read up to its end at startup.",
		}),
		windows: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "memory_windows",
			Help: "Windows held in memory.",
		}),
		cells: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "memory_cells",
			Help: "Key windows held in memory.",
		}),
		pendingWindows: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "influx_pending_windows",
			Help: "Windows with a total read from the aggregates topic that the sink has not committed yet: their InfluxDB answers are not cached.",
		}),
		incUpdates: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "top_incremental_updates_total",
			Help: "Unfiltered in-memory top-N brought up to date from the change log.",
		}),
		incFull: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "top_full_merges_total",
			Help: "Unfiltered in-memory top-N merged from every key of the range.",
		}),
		incResets: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "top_log_overflows_total",
			Help: "Unfiltered top-N merged again because the change log no longer held every change since.",
		}),
	}
	m.reg.MustRegister(m.latency, m.requests, m.cacheHits, m.cacheMisses, m.answers,
		m.influxErrors, m.influxSeconds, m.records, m.badRecords, m.ready, m.windows, m.cells, m.pendingWindows, m.incUpdates, m.incFull, m.incResets,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.topHits, m.topMisses = m.cacheHits.WithLabelValues("top"), m.cacheMisses.WithLabelValues("top")
	m.stableHits, m.stableMisses = m.cacheHits.WithLabelValues("stable"), m.cacheMisses.WithLabelValues("stable")
	m.answerBy = make(map[string]prometheus.Counter, 3)
	for _, src := range []string{sourceMemory, sourceInflux, sourceMixed} {
		m.answerBy[src] = m.answers.WithLabelValues(src)
	}
	return m
}
