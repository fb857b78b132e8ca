package reconcile_test

import (
	"fmt"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/reconcile"
	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/engine/total"
)

// TestReconcileGranularities, against kfake and a real influxd: with the
// retention config, one reconcile repairs the 10s, 1m and 5m totals of
// its range, each in its granularity's retention policy, leaves out the
// 10s windows past their retention (counted as skipped expired, nothing
// written for them), and a second run finds nothing to repair.
func TestReconcileGranularities(t *testing.T) {
	st := newStack(t, 2*time.Minute)
	ctx := st.ctx
	r := rollup.Config{Granularities: []rollup.Granularity{
		{Window: 10 * time.Second, Retention: 12 * time.Minute},
		{Window: time.Minute, Retention: 2 * time.Hour},
		{Window: 5 * time.Minute},
	}}
	ic, err := influx.EnsurePolicies(ctx, st.ic, r)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	to := time.UnixMilli(total.WindowStart(now.Add(-5*time.Minute).UnixMilli(), 300_000))
	from := to.Add(-10 * time.Minute)
	keys := []string{"v1", "v2", "v3"}
	var recs []*kgo.Record
	want := map[string]total.Total{}
	for i := range 600 {
		e := event.Event{ID: fmt.Sprintf("e%d", i), Key: keys[i%3], Type: "VIEW", Value: float64(i % 7), TS: from.UnixMilli() + int64(i)*1000}
		p := kafka.Partition([]byte(e.Key), partitions)
		recs = append(recs, &kgo.Record{Topic: st.topics.Events, Partition: p, Key: []byte(e.Key), Value: event.AppendJSON(nil, &e), Timestamp: time.UnixMilli(e.TS)})
		for _, size := range []int64{10_000, 60_000, 300_000} {
			x := total.Total{Key: e.Key, Type: e.Type, Sub: int(p), Size: size, Start: e.TS - e.TS%size}
			k := string(x.RecordKey())
			if old, ok := want[k]; ok {
				x = old
			}
			x.Add(e.Value)
			want[k] = x
		}
	}
	// Events at now on every partition: every window of the range is
	// closed by the engine's watermark rule.
	for p := range int32(partitions) {
		key := "tick"
		for i := 0; kafka.Partition([]byte(key), partitions) != p; i++ {
			key = fmt.Sprint("tick", i)
		}
		e := event.Event{ID: fmt.Sprintf("now%d", p), Key: key, Type: "VIEW", TS: now.UnixMilli()}
		recs = append(recs, &kgo.Record{Topic: st.topics.Events, Partition: p, Key: []byte(e.Key), Value: event.AppendJSON(nil, &e), Timestamp: now})
	}
	if err := st.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	const group = "reconcile-test-engine"
	commitEnd(t, ctx, st.cl, group, st.topics.Events)
	cfg := reconcile.Config{Kafka: st.conn, Influx: st.ic, From: from, To: to, EngineGroup: group, Rollup: &r,
		Windows: []time.Duration{10 * time.Second, time.Minute, 5 * time.Minute}, Idle: 3 * time.Second, MaxDifferences: 10000}
	expired := 0
	for _, x := range want {
		if r.Expired(x.Size, x.Start, time.Now().UnixMilli()) {
			expired++
		}
	}
	res, err := reconcile.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if expired == 0 || res.WindowsSkippedExpired < expired || res.WindowsRewritten != len(want)-res.WindowsSkippedExpired || res.WindowsSkippedOpen != 0 {
		t.Fatalf("first run: %+v; want %d windows, %d of them expired", withoutDiffs(res), len(want), expired)
	}
	cl := influxdb2.NewClient(ic.URL, ic.Token)
	defer cl.Close()
	for _, size := range []int64{10_000, 60_000, 300_000} {
		got, err := reconcile.Stored(ctx, cl.QueryAPI(ic.Org), ic.BucketFor(size), from, to, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for k, w := range want {
			if w.Size != size {
				continue
			}
			g := got[k]
			if r.Expired(w.Size, w.Start, time.Now().UnixMilli()) && g == nil { // expired by the time the run wrote
				continue
			}
			if g == nil || g.Count != w.Count || g.Sum != w.Sum || g.Min != w.Min || g.Max != w.Max {
				t.Fatalf("%s in %s: stored %+v, want %+v", k, ic.BucketFor(size), g, w)
			}
			n++
		}
		if len(got) != n {
			t.Fatalf("bucket %s holds %d windows, want %d", ic.BucketFor(size), len(got), n)
		}
	}
	if got, err := reconcile.Stored(ctx, cl.QueryAPI(ic.Org), st.ic.Bucket, from, to, nil); err != nil || len(got) != 0 {
		t.Fatalf("the default bucket holds %d windows (%v), want none", len(got), err)
	}
	again, err := reconcile.Run(ctx, cfg)
	if err != nil || again.WindowsDiffering != 0 {
		t.Fatalf("second run: %+v %v, want nothing differing", withoutDiffs(again), err)
	}
}
