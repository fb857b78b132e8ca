package gateway

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the gateway's Prometheus metrics, in a registry of its own
// (served on GET /metrics).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	accepted prometheus.Counter
	rejected prometheus.Counter
	failed   prometheus.Counter
	dlqFail  prometheus.Counter
	batch    prometheus.Histogram
	ack      prometheus.Histogram
}

func newMetrics(inFlight func() float64) *metrics {
	reg := prometheus.NewRegistry()
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "countlab_gateway_events_total",
		Help: "Events received, by result: accepted (acknowledged by Kafka), rejected (invalid, dead-lettered), failed (Kafka did not acknowledge).",
	}, []string{"result"})
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "countlab_gateway_requests_total",
			Help: "HTTP requests answered, by status code.",
		}, []string{"code"}),
		accepted: events.WithLabelValues("accepted"),
		rejected: events.WithLabelValues("rejected"),
		failed:   events.WithLabelValues("failed"),
		dlqFail: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "countlab_gateway_dead_letter_failed_total",
			Help: "Invalid events whose dead-letter record Kafka did not acknowledge (the request was answered 503).",
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "countlab_gateway_batch_events",
			Help:    "Events per admitted POST /v1/events request.",
			Buckets: []float64{1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000},
		}),
		ack: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "countlab_gateway_produce_ack_seconds",
			Help:    "Time from producing a request's records to Kafka acknowledging the last of them.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
	}
	reg.MustRegister(
		m.requests, events, m.dlqFail, m.batch, m.ack,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "countlab_gateway_events_in_flight",
			Help: "Events being produced to Kafka now (admission limit: MaxInFlight).",
		}, inFlight),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) request(code int) { m.requests.WithLabelValues(strconv.Itoa(code)).Inc() }
