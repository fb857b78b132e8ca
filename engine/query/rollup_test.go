package query_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/engine/total"
)

// TestRollupPlanned runs the server against kfake and a real influxd with
// three granularities: 10s totals kept 1m, 1m totals kept 2h, 1h totals
// forever. The 10s totals past their retention are written wrong (count
// + 1000) to both Kafka and InfluxDB, so an answer that read one would be
// off. Random ranges over the last 3 hours asked with window=auto are
// answered exactly (the truth: the 10s base totals over the effective
// range the answer states), reading only retained windows; a 10s range
// past the retention is refused with 400 naming from.
func TestRollupPlanned(t *testing.T) {
	isrv := startInflux(t)
	conn, topics := startKafka(t)
	r := rollup.Config{Granularities: []rollup.Granularity{
		{Window: 10 * time.Second, Retention: time.Minute},
		{Window: time.Minute, Retention: 2 * time.Hour},
		{Window: time.Hour},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	iconf, err := influx.EnsurePolicies(ctx, isrv.Config(), r)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	nowMs := now.UnixMilli()
	const margin = 2 * time.Second // the server's influx timeout: plans are made at now + it
	base := total.WindowStart(nowMs-3*3600_000, 3600_000)
	rnd := rand.New(rand.NewPCG(7, 8))
	keys := []string{"a", "b"}
	var base10 []total.Total
	rolled := map[string]*total.Total{}
	var published []total.Total
	for s := base; s < nowMs; s += 10_000 {
		for _, k := range keys {
			n := rnd.Int64N(4)
			if n == 0 {
				continue
			}
			x := total.Total{Key: k, Type: "VIEW", Start: s, Size: 10_000, Count: n, Sum: float64(3 * n), Min: 3, Max: 3, Closed: true}
			base10 = append(base10, x)
			stored := x
			if s < nowMs-60_000 {
				stored.Count += 1000 // expired: must never be read
			}
			published = append(published, stored)
			for _, size := range []int64{60_000, 3600_000} {
				c := x
				c.Size, c.Start = size, total.WindowStart(s, size)
				id := string(c.RecordKey())
				if rolled[id] == nil {
					z := c
					z.Count, z.Sum = 0, 0
					rolled[id] = &z
				}
				rolled[id].Merge(x)
			}
		}
	}
	for _, x := range rolled {
		published = append(published, *x)
	}
	p := newProducer(t, conn, topics.Aggregates)
	for i := 0; i < len(published); i += 2000 {
		p.txn(true, published[i:min(i+2000, len(published))]...)
	}
	bySize := map[int64][]total.Total{}
	for _, x := range published {
		if x.Size == 10_000 && x.Start < nowMs-55*60_000 || x.Size != 10_000 && r.Expired(x.Size, x.Start, nowMs) {
			continue // InfluxDB refuses points older than the policy's duration
		}
		bySize[x.Size] = append(bySize[x.Size], x)
	}
	for size, ts := range bySize {
		c := iconf
		c.Bucket = iconf.BucketFor(size)
		for i := 0; i < len(ts); i += 5000 {
			writeInflux(t, c, ts[i:min(i+5000, len(ts))]...)
		}
	}
	commitSinkOffsets(t, conn, topics.Aggregates)

	srv, c, _ := serve(t, query.Kafka(conn), query.Topic(topics.Aggregates), query.Influx(isrv.Config()), query.Rollup(r),
		query.Retention(30*time.Minute), query.Clock(func() time.Time { return now }), query.InfluxTimeout(margin),
		query.Windows(10*time.Second, time.Minute, time.Hour), query.MaxRange(24*time.Hour))
	if err := srv.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	truth := func(key string, from, to int64) (n int64) {
		for _, x := range base10 {
			if x.Key == key && x.Start >= from && x.Start < to {
				n += x.Count
			}
		}
		return n
	}
	floor10 := total.WindowStart(nowMs+margin.Milliseconds()-60_000+9_999, 10_000)
	sizes := map[string]int64{}
	for i := 0; i < 120; i++ {
		from := nowMs - rnd.Int64N(3*3600_000-1000)
		to := from + 1 + rnd.Int64N(nowMs-from+60_000)
		if i%10 == 0 { // some whole hours and whole minutes
			from = total.WindowStart(from, 3600_000)
			to = from + 3600_000*(1+rnd.Int64N(2))
		}
		switch i { // and, whatever the clock, one range only 10s totals answer and one only 1m totals do
		case 1: // the 10s totals are the finest only from the first whole minute they hold
			from = total.WindowStart(floor10+59_999, 60_000)
			to = from + 10_000
		case 2:
			from = total.WindowStart(nowMs-30*60_000, 60_000) + 60_000
			to = from + 60_000
		}
		key := keys[i%2]
		got, err := c.Count(ctx, client.CountRequest{Key: key, Range: client.Range{Type: "VIEW", From: time.UnixMilli(from), To: time.UnixMilli(to), Auto: true}})
		if err != nil {
			t.Fatalf("range %d [%v, %v): %v", i, time.UnixMilli(from).UTC(), time.UnixMilli(to).UTC(), err)
		}
		gf, gt := got.From.UnixMilli(), got.To.UnixMilli()
		if gf > from || gt < to || got.Window != "auto" || len(got.Plan) == 0 {
			t.Fatalf("range %d: answer %+v does not hold [%d, %d)", i, got, from, to)
		}
		if want := truth(key, gf, gt); got.Count != want {
			t.Fatalf("range %d [%v, %v) answered as [%v, %v): count %d, want %d; plan %+v", i, time.UnixMilli(from).UTC(), time.UnixMilli(to).UTC(),
				got.From, got.To, got.Count, want, got.Plan)
		}
		if want := map[int]string{1: "10s", 2: "60s"}[i]; want != "" && (len(got.Plan) != 1 || got.Plan[0].Window != want) {
			t.Fatalf("range %d [%v, %v): plan %+v, want one %s piece", i, time.UnixMilli(from).UTC(), time.UnixMilli(to).UTC(), got.Plan, want)
		}
		var sum int64
		for _, pc := range got.Plan {
			sizes[pc.Window]++
			sum += pc.Count
			if pc.Window == "10s" && pc.From.UnixMilli() < floor10 {
				t.Fatalf("range %d reads expired 10s windows: %+v", i, pc)
			}
		}
		if sum != got.Count {
			t.Fatalf("range %d: pieces sum to %d, count %d", i, sum, got.Count)
		}
		if got.Aligned != (gf == from && gt == to) {
			t.Fatalf("range %d: aligned %v", i, got.Aligned)
		}
	}
	if sizes["10s"] == 0 || sizes["60s"] == 0 || sizes["3600s"] == 0 {
		t.Fatalf("pieces per granularity %v: want every granularity used", sizes)
	}
	// A stats answer with window=auto, and the refusals.
	from, to := time.UnixMilli(base+3600_000), time.UnixMilli(base+2*3600_000)
	st, err := c.Stats(ctx, client.StatsRequest{Key: "a", Fn: "sum", Range: client.Range{Type: "VIEW", From: from, To: to, Auto: true}})
	if want := truth("a", base+3600_000, base+2*3600_000); err != nil || st.Value != float64(3*want) || st.Count != want || len(st.Plan) != 1 || st.Plan[0].Window != "3600s" {
		t.Fatalf("stats sum over one whole hour: %+v %v, want %d from one 1h piece", st, err, 3*want)
	}
	// Without window=, a count is planned too.
	if d, err := c.Count(ctx, client.CountRequest{Key: "a", Range: client.Range{Type: "VIEW", From: time.UnixMilli(nowMs - 5*60_000), To: now}}); err != nil || d.Window != "auto" || len(d.Plan) == 0 {
		t.Fatalf("count without window: %+v %v, want a planned answer", d, err)
	}
	var qe *client.Error
	_, err = c.Count(ctx, client.CountRequest{Key: "a", Range: client.Range{Type: "VIEW", From: time.UnixMilli(nowMs - 5*60_000), To: now, Window: 10 * time.Second}})
	if !errors.As(err, &qe) || qe.Status != 400 || qe.Param != "from" {
		t.Fatalf("10s totals past their retention: %v, want 400 param from", err)
	}
	got, err := c.Count(ctx, client.CountRequest{Key: "a", Range: client.Range{Type: "VIEW", From: time.UnixMilli(nowMs - 30_000), To: now, Window: 10 * time.Second}})
	if err != nil || got.Count != truth("a", got.From.UnixMilli(), got.To.UnixMilli()) {
		t.Fatalf("10s totals within their retention: %+v %v", got, err)
	}
	_, err = c.Top(ctx, client.TopRequest{N: 3, Range: client.Range{Type: "VIEW", Auto: true}})
	if !errors.As(err, &qe) || qe.Status != 400 || qe.Param != "window" {
		t.Fatalf("top with window=auto: %v, want 400 param window", err)
	}
}
