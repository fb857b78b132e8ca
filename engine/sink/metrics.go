package sink

import "github.com/prometheus/client_golang/prometheus"

// metrics are the sink's Prometheus metrics.
type metrics struct {
	consumed       prometheus.Counter
	superseded     prometheus.Counter
	written        prometheus.Counter
	unchanged      prometheus.Counter
	writeSeconds   prometheus.Histogram
	retries        prometheus.Counter
	breakerState   prometheus.Gauge
	breakerChanges *prometheus.CounterVec
	deadLettered   prometheus.Counter
	replayed       prometheus.Counter
	deadLetterSize prometheus.Gauge
	commits        prometheus.Counter
	commitLag      prometheus.Gauge
	commitAge      prometheus.Gauge
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		consumed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "countlab_sink_totals_consumed_total",
			Help: "Window totals read from the aggregates topic.",
		}),
		superseded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "countlab_sink_totals_superseded_total",
			Help: "Totals skipped because a newer total of the same window was in the same batch.",
		}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "countlab_sink_points_written_total",
			Help: "Points InfluxDB acknowledged.",
		}),
		unchanged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "countlab_sink_points_unchanged_total",
			Help: "Totals not written because InfluxDB already holds the same point from this sink (a window's Closed total with no event since its last).",
		}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "countlab_sink_write_seconds",
			Help:    "Latency of InfluxDB write requests, failed ones included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "countlab_sink_write_retries_total",
			Help: "InfluxDB writes retried after a transient failure.",
		}),
		breakerState: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "countlab_sink_breaker_state",
			Help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
		}),
		breakerChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "countlab_sink_breaker_transitions_total",
			Help: "Circuit breaker state changes, by the state entered.",
		}, []string{"to"}),
		deadLettered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "countlab_sink_dead_lettered_total",
			Help: "Records sent to the sink dead-letter topic (permanently rejected or undecodable).",
		}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "countlab_sink_dead_letter_replayed_total",
			Help: "Dead-lettered totals written to InfluxDB by a replay.",
		}),
		deadLetterSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "countlab_sink_dead_letter_size",
			Help: "Records in the sink dead-letter topic not yet replayed.",
		}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "countlab_sink_commits_total",
			Help: "Offset commits after InfluxDB acknowledged a batch.",
		}),
		commitLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "countlab_sink_commit_lag_records",
			Help: "Records between the committed offsets and the high watermarks, summed over assigned partitions.",
		}),
		commitAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "countlab_sink_commit_age_seconds",
			Help: "Age of the newest committed total at commit time (record timestamp to commit).",
		}),
	}
	for _, s := range []string{Closed.String(), HalfOpen.String(), Open.String()} {
		m.breakerChanges.WithLabelValues(s)
	}
	if r != nil {
		r.MustRegister(m.consumed, m.superseded, m.written, m.unchanged, m.writeSeconds, m.retries,
			m.breakerState, m.breakerChanges, m.deadLettered, m.replayed, m.deadLetterSize,
			m.commits, m.commitLag, m.commitAge)
	}
	return m
}
