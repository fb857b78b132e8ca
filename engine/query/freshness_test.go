package query_test

import (
	"bufio"
	"context"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/engine/total"
)

// runSink runs the real sink (engine/sink, its default consumer group) from
// the aggregates topic into InfluxDB until the returned stop is called.
func runSink(t *testing.T, conn kafka.Conn, iconf influx.Config) (stop func()) {
	t.Helper()
	s, err := sink.New(sink.Kafka(conn), sink.TopicPrefix("t-"), sink.Influx(iconf), sink.Registerer(prometheus.NewRegistry()),
		sink.KafkaOpts(kgo.FetchMaxWait(100*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once atomic.Bool
	stop = func() {
		if once.Swap(true) {
			return
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sink: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// metric is the value of the sample named series (name{labels}) on /metrics.
func metric(t *testing.T, base, series string) float64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(get(t, base+"/metrics", "")))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// eventually polls cond every 50 ms for up to 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not after 30 s: %s", what)
		}
	}
}

// influxCount is the count InfluxDB holds for key's VIEW window at start.
func influxCount(t *testing.T, iconf influx.Config, key string, start int64) int64 {
	t.Helper()
	cl := influxdb2.NewClient(iconf.URL, iconf.Token)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q := `from(bucket: ` + influx.FluxString(iconf.Bucket) + `) |> range(start: ` + time.UnixMilli(start).UTC().Format(time.RFC3339) +
		`, stop: ` + time.UnixMilli(start+size).UTC().Format(time.RFC3339) + `) |> filter(fn: (r) => r._measurement == ` +
		influx.FluxString(influx.Measurement) + ` and r[` + influx.FluxString(influx.TagKey) + `] == ` + influx.FluxString(key) +
		` and r._field == ` + influx.FluxString(influx.FieldCount) + `) |> group() |> sum()`
	res, err := cl.QueryAPI(iconf.Org).Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	var n int64
	for res.Next() {
		n += res.Record().Value().(int64)
	}
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	return n
}

// TestInfluxCacheFreshness checks, over real HTTP against the query service
// reading kfake and the real influxd written by the real sink, that an
// answer from InfluxDB is never served from the cache once a newer total of
// its windows is in InfluxDB: after the sink writes one, after a repair
// (published and written directly, as countlab reconcile does), while the
// sink lags behind the query service, and for a window that left the
// in-memory retention before the sink wrote it. Regression (F8): answers
// were cached by their Flux text and never invalidated, so a range asked
// before its total was written answered 0 for ever (a wider range, another
// Flux text, answered the total). And once InfluxDB holds every total the
// service has read, answers are cached again.
func TestInfluxCacheFreshness(t *testing.T) {
	if query.DefaultSinkGroup != sink.DefaultGroup {
		t.Fatalf("query.DefaultSinkGroup %q, sink.DefaultGroup %q", query.DefaultSinkGroup, sink.DefaultGroup)
	}
	isrv := startInflux(t)
	conn, topics := startKafka(t)
	iconf := isrv.Config()
	var clock atomic.Int64
	clock.Store(time.Now().UnixMilli())
	srv, _, base := serve(t, query.Kafka(conn), query.Topic(topics.Aggregates), query.Influx(iconf),
		query.Retention(time.Hour), query.Clock(func() time.Time { return time.UnixMilli(clock.Load()) }),
		query.InfluxTimeout(15*time.Second), query.Logger(discardLogger()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, conn, topics.Aggregates)
	stopSink := runSink(t, conn, iconf)

	old := total.WindowStart(clock.Load()-3*3600_000, size)
	at := func(key string, start, count int64) total.Total {
		return total.Total{Key: key, Type: "VIEW", Start: start, Size: size, Count: count, Sum: float64(count), Min: 1, Max: 1, Closed: true}
	}
	// expect checks counts, stats and top over the window at start alone and
	// over a range around it, asking each twice (the second may be cached).
	expect := func(key string, start, want int64, source string) {
		t.Helper()
		for _, r := range [][2]int64{{start, start + size}, {start - 2*size, start + 3*size}} {
			q := "?type=VIEW&from=" + strconv.FormatInt(r[0], 10) + "&to=" + strconv.FormatInt(r[1], 10)
			for range 2 {
				if a := getAnswer(t, base, "/v1/counts/"+key+q); a.Count != want || a.Source != source {
					t.Fatalf("counts %s %v: %+v, want %d from %s", key, r, a, want, source)
				}
				if a := getAnswer(t, base, "/v1/stats/"+key+q+"&fn=sum"); a.Count != want || a.Value == nil || *a.Value != float64(want) {
					t.Fatalf("stats sum %s %v: %+v, want %d", key, r, a, want)
				}
				var items []client.TopItem
				if want != 0 {
					items = []client.TopItem{{Key: key, Count: want}}
				}
				if a := getAnswer(t, base, "/v1/top"+q); len(a.Items) != len(items) || len(items) > 0 && !reflect.DeepEqual(a.Items, items) {
					t.Fatalf("top %v: %+v, want %+v", r, a.Items, items)
				}
			}
		}
	}
	const records = "countlab_query_records_total"
	// produce commits ts to the aggregates topic and waits until the query
	// service has read them.
	produce := func(ts ...total.Total) {
		t.Helper()
		n := metric(t, base, records)
		p.txn(true, ts...)
		eventually(t, "the query service reads the totals", func() bool { return metric(t, base, records) >= n+float64(len(ts)) })
	}
	inInflux := func(key string, start, want int64) {
		t.Helper()
		eventually(t, "InfluxDB holds "+strconv.FormatInt(want, 10), func() bool { return influxCount(t, iconf, key, start) == want })
	}

	expect("k", old, 0, "influx") // nothing yet: 0, cached
	// The sink writes 3.
	produce(at("k", old, 3))
	inInflux("k", old, 3)
	expect("k", old, 3, "influx")

	// A repair, as countlab reconcile writes it: the absolute total
	// published to the aggregates topic, then written to InfluxDB directly.
	produce(at("k", old, 5))
	writeInflux(t, iconf, at("k", old, 5))
	inInflux("k", old, 5)
	expect("k", old, 5, "influx")

	// Once the sink has written everything read, answers are cached again.
	hits := `countlab_query_cache_hits_total{cache="influx"}`
	eventually(t, "answers cached again", func() bool {
		h := metric(t, base, hits)
		expect("k", old, 5, "influx")
		return metric(t, base, hits) > h
	})

	// The sink lags: the query service reads 7 first and answers what
	// InfluxDB holds (5) until the sink writes it, and not after.
	stopSink()
	produce(at("k", old, 7))
	expect("k", old, 5, "influx")
	stopSink = runSink(t, conn, iconf)
	inInflux("k", old, 7)
	expect("k", old, 7, "influx")

	// A window leaves the in-memory retention before the sink writes it.
	stopSink()
	recent := total.WindowStart(clock.Load()-10*60_000, size)
	produce(at("m", recent, 9))
	expect("m", recent, 9, "memory")
	clock.Add(2 * 3600_000)
	expect("m", recent, 0, "influx")
	runSink(t, conn, iconf)
	inInflux("m", recent, 9)
	expect("m", recent, 9, "influx")
}
