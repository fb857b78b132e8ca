package countlab

import (
	"time"

	"go.k6.io/k6/js/modules"
	"go.k6.io/k6/metrics"
)

// Metric names. Samples carry the VU's current tags plus "transport"
// (http, kafka) or "endpoint" (count, stats, top), so thresholds like
// 'countlab_produce_ack{transport:kafka}' select them.
const (
	MetricProduced     = "countlab_events_produced"
	MetricProduceAck   = "countlab_produce_ack"
	MetricRejected     = "countlab_events_rejected"
	MetricFailed       = "countlab_events_failed"
	MetricQueryLatency = "countlab_query_latency"
	MetricQueryErrors  = "countlab_query_errors"
)

// Metrics are the extension's custom k6 metrics.
type Metrics struct {
	Produced, ProduceAck, Rejected, Failed, QueryLatency, QueryErrors *metrics.Metric
}

func registerMetrics(r *metrics.Registry) (*Metrics, error) {
	var m Metrics
	for _, d := range []struct {
		dst  **metrics.Metric
		name string
		typ  metrics.MetricType
		vt   metrics.ValueType
	}{
		{&m.Produced, MetricProduced, metrics.Counter, metrics.Default},
		{&m.ProduceAck, MetricProduceAck, metrics.Trend, metrics.Time},
		{&m.Rejected, MetricRejected, metrics.Counter, metrics.Default},
		{&m.Failed, MetricFailed, metrics.Counter, metrics.Default},
		{&m.QueryLatency, MetricQueryLatency, metrics.Trend, metrics.Time},
		{&m.QueryErrors, MetricQueryErrors, metrics.Counter, metrics.Default},
	} {
		mt, err := r.NewMetric(d.name, d.typ, d.vt)
		if err != nil {
			return nil, err
		}
		*d.dst = mt
	}
	return &m, nil
}

// push emits samples of the metrics with the VU's current tags plus
// tag=value. Outside a running VU (init context) it does nothing.
func push(vu modules.VU, tag, value string, now time.Time, vals ...metricValue) {
	state := vu.State()
	if state == nil {
		return
	}
	ctm := state.Tags.GetCurrentValues()
	tags := ctm.Tags.With(tag, value)
	samples := make(metrics.Samples, 0, len(vals))
	for _, v := range vals {
		samples = append(samples, metrics.Sample{
			TimeSeries: metrics.TimeSeries{Metric: v.m, Tags: tags},
			Time:       now,
			Metadata:   ctm.Metadata,
			Value:      v.v,
		})
	}
	metrics.PushIfNotDone(vu.Context(), state.Samples, samples)
}

type metricValue struct {
	m *metrics.Metric
	v float64
}

// ms is d in (fractional) milliseconds, the unit of k6's time Trends.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
