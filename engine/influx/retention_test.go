package influx_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/engine/rollup"
)

// TestPoliciesAndDelete runs against a real influxd: the policies are
// created (twice: idempotent; then altered), each granularity's totals
// land in its own policy, and DeleteExpired drops only the expired totals
// of its granularity.
func TestPoliciesAndDelete(t *testing.T) {
	srv := influxdtest.Start(t)
	ctx := context.Background()
	r := rollup.Config{Granularities: []rollup.Granularity{
		{Window: 10 * time.Second, Retention: 30 * time.Second},
		{Window: time.Minute, Retention: 2 * time.Hour},
		{Window: time.Hour},
	}}
	c, err := influx.EnsurePolicies(ctx, srv.Config(), r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := influx.EnsurePolicies(ctx, srv.Config(), r); err != nil {
		t.Fatalf("second EnsurePolicies: %v", err)
	}
	r.Granularities[1].Retention = 3 * time.Hour
	if c, err = influx.EnsurePolicies(ctx, srv.Config(), r); err != nil {
		t.Fatalf("EnsurePolicies with a changed retention: %v", err)
	}
	if got := c.BucketFor(60_000); got != "countlab/countlab_60s" {
		t.Fatalf("bucket of 60s = %q", got)
	}
	if got := c.BucketFor(5_000); got != c.Bucket {
		t.Fatalf("bucket of an unknown size = %q", got)
	}
	cl := influxdb2.NewClient(c.URL, c.Token)
	defer cl.Close()
	now := time.Now().Truncate(10 * time.Second)
	for _, size := range []int64{10_000, 60_000, 3_600_000} {
		w := cl.WriteAPIBlocking(c.Org, c.BucketFor(size))
		for _, at := range []time.Time{now.Add(-time.Minute), now} {
			p := influxdb2.NewPoint(influx.Measurement, map[string]string{influx.TagKey: "k", influx.TagType: "VIEW", influx.TagWindow: strconv.FormatInt(size/1000, 10) + "s"},
				map[string]any{influx.FieldCount: int64(1)}, at)
			if err := w.WritePoint(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := influx.DeleteExpired(ctx, c, 10_000, now.Add(-30*time.Second)); err != nil {
		t.Fatal(err)
	}
	count := func(size int64) int64 {
		res, err := cl.QueryAPI(c.Org).Query(ctx, `from(bucket: "`+c.BucketFor(size)+`") |> range(start: -1d) |> filter(fn: (r) => r._field == "count") |> group() |> count()`)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		var n int64
		for res.Next() {
			n += res.Record().Value().(int64)
		}
		return n
	}
	if n := count(10_000); n != 1 {
		t.Errorf("10s totals after the delete: %d, want 1 (the recent one)", n)
	}
	if n := count(60_000); n != 2 {
		t.Errorf("60s totals: %d, want 2 (another granularity: untouched)", n)
	}
	if n := count(3_600_000); n != 2 {
		t.Errorf("1h totals: %d, want 2", n)
	}
}
