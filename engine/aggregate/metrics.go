package aggregate

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the worker's Prometheus metrics. Per-event counts are summed
// locally and added once per poll, so the hot path does no atomics.
type metrics struct {
	consumed      prometheus.Counter
	counted       prometheus.Counter
	dedupHits     prometheus.Counter
	late          prometheus.Counter
	malformed     prometheus.Counter
	moved         prometheus.Counter
	commits       prometheus.Counter
	totals        prometheus.Counter
	aborted       prometheus.Counter
	attrWhole     prometheus.Counter
	commitLatency prometheus.Histogram
	restoreTime   prometheus.Histogram
	openWindows   prometheus.Gauge
	stateBytes    prometheus.Gauge
	dedupIDs      prometheus.Gauge
	lag           *prometheus.GaugeVec
	load          *prometheus.GaugeVec
	watermark     *prometheus.GaugeVec
	hotKey        *prometheus.GaugeVec
	changelog     *prometheus.CounterVec // at: batch (mid-batch chunks) or commit

	changelogInBatch, changelogAtCommit prometheus.Counter // changelog's two series
}

type partitionMetrics struct {
	lag, load, watermark prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "countlab", "engine"
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	gaugeVec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
	}
	m := &metrics{
		consumed:  counter("events_consumed_total", "Records consumed from the events topic."),
		counted:   counter("events_counted_total", "Events counted into windows (distinct, on time)."),
		dedupHits: counter("dedup_hits_total", "Events dropped as duplicates of a counted event (same key and id)."),
		late:      counter("late_events_total", "Events too late for their window, sent to the late topic."),
		malformed: counter("malformed_events_total", "Records that failed to decode or validate, sent to the dead-letter topic."),
		moved:     counter("events_moved_total", "Records found outside their canonical partition and produced, in the same transaction, to it (counted there)."),
		commits:   counter("transactions_committed_total", "Transactions committed."),
		totals:    counter("totals_produced_total", "Window totals produced to the aggregates topic (in committed and aborted transactions alike)."),
		aborted:   counter("transactions_aborted_total", "Transactions aborted (rebalance, fencing, errors); their batch is undone and replayed."),
		attrWhole: counter("attr_windows_whole_total", "Closing key windows of an enriched run without sub-totals by event time (restored from an engine or mode that kept none), attributed whole at their last millisecond."),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "commit_seconds",
			Help:    "Time to produce a batch's totals and end its transaction.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		restoreTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "restore_seconds",
			Help:    "Time to restore the state of newly assigned partitions.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		openWindows: gauge("open_windows", "Open windows held in memory."),
		stateBytes:  gauge("state_bytes", "Estimated bytes of aggregation and dedup state."),
		dedupIDs:    gauge("dedup_ids", "Event identities (key, id) held for dedup."),
		lag:         gaugeVec("partition_lag", "Records behind the high watermark, per events partition.", "partition"),
		load:        gaugeVec("partition_events_per_second", "Records consumed per second, per events partition.", "partition"),
		watermark:   gaugeVec("partition_watermark_seconds", "Event-time watermark of a partition (unix seconds).", "partition"),
		hotKey:      gaugeVec("hot_key_share", "Share of a partition's load taken by a hot key (lower bound).", "partition", "key"),
		changelog: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "changelog_records_total",
			Help: "Dedup changelog records produced (in committed and aborted transactions alike): at=batch, chunks of a batch's new ids produced while the batch is open; at=commit, those its commit produces."}, []string{"at"}),
	}
	m.changelogInBatch, m.changelogAtCommit = m.changelog.WithLabelValues("batch"), m.changelog.WithLabelValues("commit")
	if reg != nil {
		reg.MustRegister(m.consumed, m.counted, m.dedupHits, m.late, m.malformed, m.moved, m.commits, m.totals, m.aborted, m.attrWhole,
			m.commitLatency, m.restoreTime, m.openWindows, m.stateBytes, m.dedupIDs, m.lag, m.load, m.watermark, m.hotKey, m.changelog)
	}
	return m
}

func (m *metrics) forPartition(p int32) partitionMetrics {
	l := strconv.Itoa(int(p))
	return partitionMetrics{lag: m.lag.WithLabelValues(l), load: m.load.WithLabelValues(l), watermark: m.watermark.WithLabelValues(l)}
}

func (m *metrics) dropPartition(p int32) {
	l := strconv.Itoa(int(p))
	m.lag.DeleteLabelValues(l)
	m.load.DeleteLabelValues(l)
	m.watermark.DeleteLabelValues(l)
	m.hotKey.DeletePartialMatch(prometheus.Labels{"partition": l})
}

// batchCounts are one poll's per-event counts.
type batchCounts struct {
	consumed, counted, dups, late, malformed, moved int64
}

// addFrom adds o's counts to c and clears o.
func (c *batchCounts) addFrom(o *batchCounts) {
	c.consumed += o.consumed
	c.counted += o.counted
	c.dups += o.dups
	c.late += o.late
	c.malformed += o.malformed
	c.moved += o.moved
	*o = batchCounts{}
}

func (m *metrics) add(c *batchCounts) {
	m.consumed.Add(float64(c.consumed))
	m.counted.Add(float64(c.counted))
	m.dedupHits.Add(float64(c.dups))
	m.late.Add(float64(c.late))
	m.malformed.Add(float64(c.malformed))
	m.moved.Add(float64(c.moved))
	*c = batchCounts{}
}
