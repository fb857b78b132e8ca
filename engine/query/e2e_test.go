package query_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/engine/total"
)

const size = int64(60_000)

var (
	types    = []string{"VIEW", "CLICK"}
	dimSets  = []string{"", "country=US", "country=DE,device=ios", "country=US,device=android"}
	hostile  = `q"x\y${z} a,b=c`
	dataKeys = []string{"k0", "k1", "k2", "k3", "k4", hostile}
	filters  = []map[string]string{nil, {"country": "US"}, {"country": "US", "device": "android"}, {"device": "ios"}}
	// injections must match nothing and must not fail.
	injections = []string{
		`x" or r.key != "`, `k0" or "1"=="1`, `") |> drop(columns: ["key"]) //`, `${r.key}`, `k0${""}`,
		"k0\n", "a\nb\r\tc", `\`, `\"`, `k0\`, `"`, `k0" or true or "`,
		`$\`, `k0$" or "1"=="1`, `$$\${r.key}`, `$\"`,
	}
)

// dataset is the totals of the test: the final ones, older versions they
// supersede, and ones produced in aborted transactions.
type dataset struct {
	final, older, aborted []total.Total
}

func genData(seed uint64, starts []int64) dataset {
	rng := rand.New(rand.NewPCG(seed, 7))
	var d dataset
	for _, start := range starts {
		for _, typ := range types {
			for _, key := range dataKeys {
				n := 1 + rng.IntN(3)
				used := map[[2]int]bool{}
				for range n {
					di, sub := rng.IntN(len(dimSets)), rng.IntN(3)
					if used[[2]int{di, sub}] {
						continue
					}
					used[[2]int{di, sub}] = true
					c := int64(1 + rng.IntN(40))
					mn := float64(1 + rng.IntN(5))
					mx := mn + float64(rng.IntN(6))
					t := total.Total{Key: key, Type: typ, DimSet: dimSets[di], Sub: sub, Start: start, Size: size,
						Count: c, Sum: float64(c)*mn + (mx - mn), Min: mn, Max: mx, Closed: true}
					d.final = append(d.final, t)
					if rng.IntN(4) == 0 {
						o := t
						o.Count, o.Sum, o.Closed = t.Count+7, t.Sum+70, false
						d.older = append(d.older, o)
					}
				}
			}
			// tied keys, the largest VIEW counts, so top-N cuts through the tie.
			if typ == "VIEW" {
				for _, key := range []string{"tC", "tA", "tB"} {
					d.final = append(d.final, total.Total{Key: key, Type: typ, DimSet: "country=US", Start: start, Size: size,
						Count: 100, Sum: 100, Min: 1, Max: 1, Closed: true})
				}
			}
		}
		d.aborted = append(d.aborted,
			total.Total{Key: "ghost", Type: "VIEW", Start: start, Size: size, Count: 1000, Sum: 1000, Min: 1, Max: 1},
			total.Total{Key: "k0", Type: "VIEW", Start: start, Size: size, Count: 5000, Sum: 5000, Min: 1, Max: 1})
	}
	return d
}

func windowsFrom(base int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = base + int64(i)*size
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	isrv := startInflux(t)
	conn, topics := startKafka(t)
	iconf := isrv.Config()

	now := time.Now()
	nowMs := now.UnixMilli()
	recent := total.WindowStart(nowMs-30*60_000, size)
	old := total.WindowStart(nowMs-3*3600_000, size)
	d := genData(1, append(windowsFrom(old, 8), windowsFrom(recent, 8)...))
	// a second window size (10 s) for one key: separate from the 60 s answers.
	for _, base := range []int64{recent, old} {
		for w := range int64(6) {
			d.final = append(d.final, total.Total{Key: "k0", Type: "VIEW", DimSet: "country=US", Sub: int(w % 2), Start: base + w*10_000, Size: 10_000,
				Count: w + 1, Sum: 2 * float64(w+1), Min: 2, Max: 2, Closed: true})
		}
	}
	tr := truth{}
	tr.add(d.final...)

	p := newProducer(t, conn, topics.Aggregates)
	p.txn(true, d.older...)
	p.txn(false, d.aborted...)
	p.txn(true, d.final...)
	writeInflux(t, iconf, d.older...)
	writeInflux(t, iconf, d.final...)
	commitSinkOffsets(t, conn, topics.Aggregates) // the test is the sink

	srv, c, base := serve(t, query.Kafka(conn), query.Topic(topics.Aggregates), query.Influx(iconf),
		query.Retention(time.Hour), query.Clock(func() time.Time { return now }), query.InfluxTimeout(15*time.Second),
		query.RetryAfter(3*time.Second), query.Windows(time.Minute, 10*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := srv.WaitReady(ctx); err != nil {
		t.Fatalf("not ready: %v", err)
	}
	p.txn(false, d.aborted...) // aborted after the final totals: must not count either

	type rng struct {
		name, source     string
		from, to         int64 // asked
		wantFrom, wantTo int64 // effective
	}
	ranges := []rng{
		{"memory", "memory", recent, recent + 8*size, recent, recent + 8*size},
		{"memory-unaligned", "memory", recent + size + 30_000, recent + 5*size + 1, recent + size, recent + 6*size},
		{"influx", "influx", old, old + 8*size, old, old + 8*size},
		{"influx-unaligned", "influx", old + 2*size - 1, old + 4*size - 1, old + size, old + 4*size},
		{"mixed", "mixed", old + 2*size + 10_000, recent + 6*size - 5_000, old + 2*size, recent + 6*size},
		{"empty", "memory", recent + 20*size, recent + 22*size, recent + 20*size, recent + 22*size},
	}
	// check compares every count, stat and top-N over r with the truth.
	check := func(t *testing.T, r rng) {
		t.Helper()
		from, to := time.UnixMilli(r.from), time.UnixMilli(r.to)
		for _, typ := range types {
			for _, f := range filters {
				rg := client.Range{Type: typ, From: from, To: to, Filter: f}
				for _, key := range append([]string{"nokey"}, dataKeys...) {
					want := tr.sum(size, typ, key, r.wantFrom, r.wantTo, f)
					got, err := c.Count(ctx, client.CountRequest{Key: key, Range: rg})
					if err != nil {
						t.Fatalf("count %q %s %v: %v", key, typ, f, err)
					}
					if got.Count != want.Count || got.Source != r.source || got.Windows != (r.wantTo-r.wantFrom)/size ||
						got.From.UnixMilli() != r.wantFrom || got.To.UnixMilli() != r.wantTo || got.Aligned != (r.from == r.wantFrom && r.to == r.wantTo) {
						t.Fatalf("count %q %s %v: got %+v, want count %d source %s", key, typ, f, got, want.Count, r.source)
					}
					if len(f) > 1 {
						continue
					}
					for fn, wv := range map[string]float64{"count": float64(want.Count), "sum": want.Sum, "avg": want.Avg(), "min": want.Min, "max": want.Max} {
						if want.Count == 0 && fn != "count" && fn != "sum" {
							wv = 0
						}
						got, err := c.Stats(ctx, client.StatsRequest{Key: key, Fn: fn, Range: rg})
						if err != nil {
							t.Fatalf("stats %s %q: %v", fn, key, err)
						}
						if got.Value != wv || got.Count != want.Count {
							t.Fatalf("stats %s %q %s %v: got %v (count %d), want %v (count %d)", fn, key, typ, f, got.Value, got.Count, wv, want.Count)
						}
					}
				}
				for _, n := range []int{1, 2, 3, 5, 100} {
					want := tr.top(size, typ, r.wantFrom, r.wantTo, f, n)
					got, err := c.Top(ctx, client.TopRequest{N: n, Range: rg})
					if err != nil {
						t.Fatalf("top %d %s %v: %v", n, typ, f, err)
					}
					if len(want) == 0 {
						want = []client.TopItem{}
					}
					if !reflect.DeepEqual(got.Items, want) || !got.Exact || got.Source != r.source {
						t.Fatalf("top %d %s %v: got %+v (exact %v source %s), want %+v", n, typ, f, got.Items, got.Exact, got.Source, want)
					}
				}
			}
		}
	}
	for _, r := range ranges {
		t.Run(r.name, func(t *testing.T) {
			check(t, r)
			check(t, r) // again: answered from the caches
		})
	}

	t.Run("window-10s", func(t *testing.T) {
		for _, r := range []struct {
			from, to int64
			source   string
		}{{recent, recent + 60_000, "memory"}, {recent + 15_000, recent + 45_000, "memory"}, {old, old + 60_000, "influx"}, {old + 10_000, recent + 30_000, "mixed"}} {
			wFrom, wTo := total.WindowStart(r.from, 10_000), total.WindowStart(r.to-1, 10_000)+10_000
			want := tr.sum(10_000, "VIEW", "k0", wFrom, wTo, nil)
			got, err := c.Stats(ctx, client.StatsRequest{Key: "k0", Fn: "sum", Range: client.Range{Type: "VIEW", From: time.UnixMilli(r.from), To: time.UnixMilli(r.to), Window: 10 * time.Second}})
			if err != nil || got.Count != want.Count || got.Value != want.Sum || got.Source != r.source || got.Window != "10s" || got.Windows != (wTo-wFrom)/10_000 {
				t.Fatalf("10s window %v: got %+v, %v; want count %d sum %v from %s", r, got, err, want.Count, want.Sum, r.source)
			}
			top, err := c.Top(ctx, client.TopRequest{Range: client.Range{Type: "VIEW", From: time.UnixMilli(r.from), To: time.UnixMilli(r.to), Window: 10 * time.Second}})
			if wt := tr.top(10_000, "VIEW", wFrom, wTo, nil, 10); err != nil || !reflect.DeepEqual(top.Items, wt) {
				t.Fatalf("10s top %v: got %+v, %v; want %+v", r, top.Items, err, wt)
			}
		}
	})

	t.Run("injection", func(t *testing.T) {
		for _, r := range ranges {
			from, to := time.UnixMilli(r.from), time.UnixMilli(r.to)
			for _, key := range injections {
				got, err := c.Count(ctx, client.CountRequest{Key: key, Range: client.Range{Type: "VIEW", From: from, To: to}})
				if err != nil || got.Count != 0 {
					t.Fatalf("%s: key %q: got %+v, %v; want count 0", r.name, key, got, err)
				}
				for _, f := range []map[string]string{{"country": key}, {key: "US"}} {
					if _, ok := f[key]; ok && strings.HasPrefix(influx.FluxString("d_"+key), "(") {
						// a dimension name Flux cannot index: refused.
						_, err := c.Count(ctx, client.CountRequest{Key: "k0", Range: client.Range{Type: "VIEW", From: from, To: to, Filter: f}})
						var e *client.Error
						if !errors.As(err, &e) || e.Status != 400 || e.Param != "filter" {
							t.Fatalf("%s: filter %q: got %v, want 400 filter", r.name, f, err)
						}
						continue
					}
					got, err := c.Count(ctx, client.CountRequest{Key: "k0", Range: client.Range{Type: "VIEW", From: from, To: to, Filter: f}})
					if err != nil || got.Count != 0 {
						t.Fatalf("%s: filter %q: got %+v, %v; want count 0", r.name, f, got, err)
					}
					top, err := c.Top(ctx, client.TopRequest{Range: client.Range{Type: "VIEW", From: from, To: to, Filter: f}})
					if err != nil || len(top.Items) != 0 {
						t.Fatalf("%s: top filter %q: got %+v, %v; want nothing", r.name, f, top, err)
					}
				}
			}
		}
	})

	t.Run("freshness", func(t *testing.T) {
		fresh := total.Total{Key: "fresh", Type: "VIEW", DimSet: "country=US", Start: recent + 3*size, Size: size, Count: 42, Sum: 42, Min: 1, Max: 1}
		start := time.Now()
		p.txn(true, fresh)
		for {
			got, err := c.Count(ctx, client.CountRequest{Key: "fresh", Range: client.Range{Type: "VIEW", From: time.UnixMilli(recent), To: time.UnixMilli(recent + 8*size)}})
			if err != nil {
				t.Fatal(err)
			}
			if got.Count == 42 {
				t.Logf("visible %v after the commit returned, %v after produce started", time.Since(start), time.Since(start))
				if time.Since(start) > time.Second {
					t.Fatalf("fresh total visible only after %v", time.Since(start))
				}
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("fresh total not visible after %v: %+v", time.Since(start), got)
			}
			time.Sleep(5 * time.Millisecond)
		}
		tr.add(fresh)
		check(t, ranges[0])
	})

	t.Run("warming-up", func(t *testing.T) {
		// Kafka unreachable: never ready, so every range comes from InfluxDB
		// (and is 503 without it).
		dead := kafka.Conn{Brokers: []string{"127.0.0.1:1"}}
		_, wc, wbase := serve(t, query.Kafka(dead), query.Influx(iconf), query.Retention(time.Hour),
			query.Clock(func() time.Time { return now }), query.Logger(discardLogger()))
		want := tr.sum(size, "VIEW", "k1", recent, recent+8*size, nil)
		got, err := wc.Count(ctx, client.CountRequest{Key: "k1", Range: client.Range{Type: "VIEW", From: time.UnixMilli(recent), To: time.UnixMilli(recent + 8*size)}})
		if err != nil || got.Count != want.Count || got.Source != "influx" {
			t.Fatalf("warming up: got %+v, %v; want %d from influx", got, err, want.Count)
		}
		if body := get(t, wbase+"/healthz", ""); !strings.Contains(body, `"ready":false`) {
			t.Fatalf("healthz: %s", body)
		}
		_, nc, _ := serve(t, query.Kafka(dead), query.Logger(discardLogger()))
		_, err = nc.Count(ctx, client.CountRequest{Key: "k1", Range: client.Range{Type: "VIEW"}})
		if !client.IsUnavailable(err) {
			t.Fatalf("warming up without InfluxDB: got %v, want 503", err)
		}
	})

	t.Run("flux-string", func(t *testing.T) {
		// Every hostile string, quoted by FluxString, reads back unchanged
		// from the real Flux engine.
		cl := influxdb2.NewClient(iconf.URL, iconf.Token)
		defer cl.Close()
		qa := cl.QueryAPI(iconf.Org)
		for _, in := range append(injections, hostile, "é ✓", `$`, `$${`, `\${`) {
			q := `from(bucket: ` + influx.FluxString(iconf.Bucket) + `) |> range(start: 0) |> limit(n: 1) |> map(fn: (r) => ({r with s: ` + influx.FluxString(in) + `}))`
			res, err := qa.Query(ctx, q)
			if err != nil {
				t.Fatalf("%q: %v\n%s", in, err, q)
			}
			n := 0
			for res.Next() {
				n++
				// Flux in InfluxDB 1.8 drops carriage returns from string
				// literals (escaped or not): the one character that does not
				// read back.
				if got := res.Record().ValueByKey("s"); got != strings.ReplaceAll(in, "\r", "") {
					t.Fatalf("%q reads back as %q", in, got)
				}
			}
			if res.Err() != nil || n == 0 {
				t.Fatalf("%q: %d rows, %v", in, n, res.Err())
			}
			res.Close()
		}
	})

	t.Run("influx-down", func(t *testing.T) {
		if err := isrv.Kill(); err != nil {
			t.Fatal(err)
		}
		check(t, ranges[0])
		check(t, ranges[1])
		// ranges not asked before (nothing cached) need InfluxDB: 503.
		for _, r := range []rng{
			{from: old + size, to: old + 3*size},
			{from: old + 3*size, to: recent + 2*size},
		} {
			_, err := c.Count(ctx, client.CountRequest{Key: "k1", Range: client.Range{Type: "VIEW", From: time.UnixMilli(r.from), To: time.UnixMilli(r.to)}})
			var e *client.Error
			if !errors.As(err, &e) || e.Status != 503 || e.RetryAfter != 3*time.Second {
				t.Fatalf("count with InfluxDB down: got %v, want 503 with Retry-After 3", err)
			}
			_, err = c.Top(ctx, client.TopRequest{Range: client.Range{Type: "CLICK", From: time.UnixMilli(r.from), To: time.UnixMilli(r.to)}})
			if !client.IsUnavailable(err) {
				t.Fatalf("top with InfluxDB down: got %v, want 503", err)
			}
		}
		rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer rcancel()
		if err := isrv.Restart(rctx); err != nil {
			t.Fatal(err)
		}
		check(t, ranges[3])
		check(t, rng{"after", "influx", old + size, old + 3*size, old + size, old + 3*size})
	})

	t.Run("metrics", func(t *testing.T) {
		body := get(t, base+"/metrics", "")
		for _, want := range []string{"countlab_query_request_duration_seconds_bucket", `countlab_query_cache_hits_total{cache="top"}`,
			`countlab_query_answers_total{source="mixed"}`, "countlab_query_influx_errors_total"} {
			if !containsString(body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
	_ = fmt.Sprint
}
