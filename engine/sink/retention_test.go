package sink_test

import (
	"testing"
	"time"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/engine/total"
)

// TestSinkRetention, against kfake and a real influxd: each granularity
// lands in its own retention policy, created by the sink; a total already
// past its retention is not written (counted expired); and a retention
// below InfluxDB's 1h minimum is enforced by the sink's own deletes, while
// the coarser granularity keeps its totals.
func TestSinkRetention(t *testing.T) {
	_, ic := sharedInflux(t)
	addrs := newKafka(t)
	ctx := ctxT(t, 90*time.Second)
	r := rollup.Config{Granularities: []rollup.Granularity{
		{Window: 10 * time.Second, Retention: 20 * time.Second},
		{Window: time.Minute, Retention: 2 * time.Hour},
	}, EnforceEvery: 300 * time.Millisecond}
	s := startSink(t, addrs, ic, sink.Rollup(r))
	defer s.stop(t)

	// Start just after a 10 s boundary, so the fresh window has its whole
	// 20 s retention ahead of it: on a loaded box (CI) the writes and the
	// checks below must not race its expiry.
	time.Sleep(time.Until(time.UnixMilli(total.WindowStart(time.Now().UnixMilli(), 10_000) + 10_050)))
	now := time.Now().UnixMilli()
	fresh := total.WindowStart(now, 10_000)
	mk := func(size, start int64, n int64) total.Total {
		return total.Total{Key: "k", Type: "VIEW", Size: size, Start: start, Count: n, Sum: float64(n), Min: 1, Max: 1}
	}
	ts := []total.Total{
		mk(10_000, fresh, 3),        // retained, expires ~20 s from now
		mk(10_000, fresh-60_000, 5), // already expired: not written
		mk(60_000, total.WindowStart(now, 60_000), 8),
		mk(60_000, total.WindowStart(now, 60_000)-3_600_000, 9), // 1h old: kept (2h)
	}
	if err := newTxnProducer(t, addrs, "agg-ret").txn(ctx, ts, true); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for metric(t, s.reg, "countlab_sink_points_written_total", "") < 3 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	buckets := influx.PolicyBuckets(ic, r)
	at := func(size int64) influx.Config { c := ic; c.Bucket = buckets.BucketFor(size); return c }
	// The short-lived total first: it is gone ~20 s from now.
	waitEqual(t, at(10_000), map[string]total.Total{string(ts[0].RecordKey()): ts[0]}, 10*time.Second)
	waitEqual(t, at(60_000), map[string]total.Total{string(ts[2].RecordKey()): ts[2], string(ts[3].RecordKey()): ts[3]}, 30*time.Second)
	if got := metric(t, s.reg, "countlab_sink_totals_expired_total", ""); got != 1 {
		t.Errorf("expired totals counted: %v, want 1", got)
	}
	if d := diff(stored(t, ic), nil); d != "" {
		t.Errorf("the default bucket holds totals:\n%s", d)
	}
	// The 10s total expires at fresh + 20 s; the enforcer deletes it.
	wait := time.Until(time.UnixMilli(fresh + 20_000))
	waitEqual(t, at(10_000), map[string]total.Total{}, wait+10*time.Second)
	waitEqual(t, at(60_000), map[string]total.Total{string(ts[2].RecordKey()): ts[2], string(ts[3].RecordKey()): ts[3]}, time.Second)
	if got := metric(t, s.reg, "countlab_sink_retention_deletes_total", ""); got < 1 {
		t.Errorf("deletes issued: %v", got)
	}
}
