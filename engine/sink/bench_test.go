package sink_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/influxd"
	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/engine/reconcile"
	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/engine/total"
)

// BenchmarkSinkThroughput: points/s the sink writes into the real influxd,
// from its first acknowledged write to its last, for 50,000 distinct
// windows already committed to the aggregates topic. Each iteration reads
// them all again under a new consumer group.
func BenchmarkSinkThroughput(b *testing.B) {
	const n = 50_000
	srv := influxdtest.Start(b, influxd.StartTimeout(2*time.Minute))
	ic := srv.Config()
	addrs := newKafka(b)
	ctx := ctxT(b, 10*time.Minute)
	p := newTxnProducer(b, addrs, "bench-agg")
	for lo := 0; lo < n; lo += 5000 {
		var batch []total.Total
		for i := lo; i < lo+5000; i++ {
			t := gen(i, 1)
			t.Key = fmt.Sprintf("bench-%d", i)
			batch = append(batch, t)
		}
		if err := p.txn(ctx, batch, true); err != nil {
			b.Fatal(err)
		}
	}
	var rates []float64
	iter := 0
	for b.Loop() {
		s := startSink(b, addrs, ic, sink.Group(fmt.Sprintf("bench-%d", iter)))
		iter++
		var first time.Time
		deadline := time.Now().Add(5 * time.Minute)
		for s.Stats().Written < n {
			if first.IsZero() && s.Stats().Written > 0 {
				first = time.Now()
			}
			if time.Now().After(deadline) {
				b.Fatalf("written %d of %d", s.Stats().Written, n)
			}
			time.Sleep(time.Millisecond)
		}
		if first.IsZero() {
			first = time.Now()
		}
		rates = append(rates, float64(n)/max(time.Since(first).Seconds(), 1e-3))
		s.stop(b)
	}
	slices.Sort(rates)
	b.ReportMetric(rates[len(rates)/2], "points/s")
}

// BenchmarkCommitToVisible: time from a transaction commit of a total to a
// Flux query returning it (sink running, one window updated per sample).
func BenchmarkCommitToVisible(b *testing.B) {
	srv := influxdtest.Start(b, influxd.StartTimeout(2*time.Minute))
	ic := srv.Config()
	addrs := newKafka(b)
	ctx := ctxT(b, 10*time.Minute)
	p := newTxnProducer(b, addrs, "bench-lat")
	// The client's default fetch max wait (5s): a long poll must still
	// return as soon as a transaction commits.
	s := startSink(b, addrs, ic, sink.KafkaOpts(kgo.FetchMaxWait(5*time.Second)))
	defer s.stop(b)
	c := influxdb2.NewClient(ic.URL, ic.Token)
	defer c.Close()
	q := c.QueryAPI(ic.Org)
	t := gen(1, 1)
	t.Key = "latency"
	from, to := time.UnixMilli(t.Start), time.UnixMilli(t.Start+1)
	var lat []time.Duration
	v := int64(0)
	for b.Loop() {
		v++
		t.Count = v
		if err := p.txn(ctx, []total.Total{t}, true); err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		for {
			m, err := reconcile.Stored(ctx, q, ic.Bucket, from, to, nil)
			if err != nil {
				b.Fatal(err)
			}
			if got := m[string(t.RecordKey())]; got != nil && got.Count == v {
				break
			}
			if time.Since(committed) > time.Minute {
				b.Fatal("total not visible after a minute")
			}
		}
		lat = append(lat, time.Since(committed))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds())/1000, "ms-p90")
	b.ReportMetric(0, "ns/op")
}
