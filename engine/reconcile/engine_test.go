package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/engine/reconcile"
	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/engine/total"
)

func testLogger() *slog.Logger {
	if os.Getenv("COUNTLAB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// produced is one event record produced to the events topic, in order.
type produced struct {
	p int32
	e event.Event
}

// TestReconcileWithEngine runs the real engine (aggregate.Worker), the real
// sink and a query.Server on kfake and influxd. Too-late events (the engine
// sends them to the late topic) leave windows wrong; reconcile repairs the
// closed ones in the aggregates topic, InfluxDB and so the query service,
// skips the one the engine still has open, skips everything while the
// engine is behind, repairs the rest once the engine closed them
// (aggregates only, through the sink), and then finds nothing to do.
func TestReconcileWithEngine(t *testing.T) {
	st := newStack(t, 3*time.Minute)
	ic, addrs, conn, cl, topics, ctx := st.ic, st.addrs, st.conn, st.cl, st.topics, st.ctx
	log := testLogger()

	const (
		lateness   = 15 * time.Second
		outOfOrder = 5 * time.Second
		engineTxn  = "reconcile-test-engine-0"
	)
	sizes := []time.Duration{time.Minute, 5 * time.Minute}
	startEngine := func() (stop func()) {
		t.Helper()
		w, err := aggregate.New(aggregate.Conn(conn), aggregate.Logger(log), aggregate.TransactionalID(engineTxn),
			aggregate.Windows(sizes...), aggregate.AllowedLateness(lateness), aggregate.OutOfOrderness(outOfOrder),
			aggregate.IdleTimeout(time.Hour)) // no idle raising: the watermark is event time only
		if err != nil {
			t.Fatal(err)
		}
		return run(t, ctx, "engine", w.Run)
	}
	stopEngine := startEngine()
	snk, err := sink.New(sink.Kafka(conn), sink.Influx(ic), sink.Logger(log))
	if err != nil {
		t.Fatal(err)
	}
	defer snk.Close()
	defer run(t, ctx, "sink", snk.Run)()
	qs, err := query.New(query.Kafka(conn), query.Windows(sizes...), query.Types("VIEW", "CLICK"), query.Logger(log))
	if err != nil {
		t.Fatal(err)
	}
	defer qs.Close()

	// Event times an hour ago (inside the query service's memory
	// retention), 5-minute aligned.
	t0 := total.WindowStart(time.Now().Add(-time.Hour).UnixMilli(), 300_000)
	from, to := time.UnixMilli(t0), time.UnixMilli(t0+300_000) // the 5m window [t0, t0+5m), five 1m windows
	// Keys whose canonical partition (murmur2) is p.
	key := func(p int32, i int) string {
		for n := 0; ; n++ {
			if k := fmt.Sprintf("k%d-%c%d", p, 'a'+i%2, n); kafka.Partition([]byte(k), partitions) == p {
				return k
			}
		}
	}
	var prod []produced
	lateWin := map[string]bool{} // windows (record keys) too-late events fall in
	send := func(evs []produced) {
		t.Helper()
		recs := make([]*kgo.Record, len(evs))
		for i, pe := range evs {
			recs[i] = &kgo.Record{Topic: topics.Events, Partition: pe.p, Key: []byte(pe.e.Key), Value: event.AppendJSON(nil, &pe.e)}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		prod = append(prod, evs...)
	}
	markLate := func(p int32, e event.Event) {
		for _, s := range []int64{60_000, 300_000} {
			st := e.TS - e.TS%s
			if st >= t0 && st < t0+300_000 {
				lateWin[win{s, st, e.Key, e.Type, e.DimSet(), int(p)}.recordKey()] = true
			}
		}
	}

	// Phase 1, per partition: events every 2s over [t0, t0+310s] (some
	// sent twice), so the watermark is t0+305s; one out of order but not
	// late; then too-late events in [t0, t0+2m): their 1m windows closed
	// at t0+75s and t0+135s, so the engine counts them nowhere, while
	// their 5m window (closing at t0+315s) is still open.
	var evs []produced
	for p := range int32(partitions) {
		for i := range 156 {
			e := event.Event{ID: fmt.Sprintf("p%d-e%d", p, i), Key: key(p, i), Type: "VIEW", Value: float64(i%7) / 4, TS: t0 + int64(i)*2000}
			if i%3 == 0 {
				e.Type = "CLICK"
			}
			if i%4 == 1 {
				e.Dims = []event.Dim{{Name: "country", Value: "US"}}
			}
			evs = append(evs, produced{p, e})
			if i%10 == 0 {
				evs = append(evs, produced{p, e})
			}
		}
		evs = append(evs, produced{p, event.Event{ID: fmt.Sprintf("p%d-ooo", p), Key: key(p, 0), Type: "VIEW", Value: 3, TS: t0 + 290_000}})
		for j := range 6 {
			e := event.Event{ID: fmt.Sprintf("p%d-late%d", p, j), Key: key(p, j), Type: "VIEW", Value: float64(j) + 0.5, TS: t0 + 10_000 + int64(j)*17_000}
			evs = append(evs, produced{p, e})
			markLate(p, e)
		}
	}
	send(evs)
	waitEngine(t, ctx, cl, topics.Events)

	truth := truthOf(prod, t0, t0+300_000)
	engine := within(latest(t, ctx, addrs, topics.Aggregates), t0, t0+300_000)
	// The engine missed exactly the too-late events' windows.
	if got := differing(truth, engine); !slices.Equal(got, sortedKeys(lateWin)) {
		t.Fatalf("engine differs from the truth in %v, want the late windows %v", got, sortedKeys(lateWin))
	}
	var fixed, open []string
	for k := range lateWin {
		if engine[k].Closed {
			fixed = append(fixed, k)
		} else {
			open = append(open, k)
		}
	}
	slices.Sort(fixed)
	slices.Sort(open)
	if len(fixed) != 4*partitions || len(open) != 2*partitions {
		t.Fatalf("closed late windows %d, open %d; want %d and %d", len(fixed), len(open), 4*partitions, 2*partitions)
	}
	waitInflux(t, ctx, ic, from, to, engine) // the sink caught up with the engine

	cfg := reconcile.Config{
		Kafka: conn, Influx: ic, From: from, To: to, Windows: sizes,
		Lateness: lateness, OutOfOrderness: outOfOrder, Idle: 3 * time.Second, MaxDifferences: 1000,
		WaitForEngine: 300 * time.Millisecond, Logger: log,
	}
	check := func(name string, res reconcile.Result, differing, rewritten int, skipped []string, behind []int32) {
		t.Helper()
		t.Logf("%s: %+v", name, withoutDiffs(res))
		if res.WindowsDiffering != differing || res.WindowsRewritten != rewritten ||
			res.WindowsSkippedOpen != len(skipped) || !slices.Equal(res.SkippedOpen, skipped) ||
			!slices.Equal(res.PartitionsEngineBehind, behind) || res.WindowsChecked != len(truth) {
			t.Fatalf("%s: got differing %d rewritten %d skipped %v behind %v checked %d\nwant %d %d %v %v %d", name,
				res.WindowsDiffering, res.WindowsRewritten, res.SkippedOpen, res.PartitionsEngineBehind, res.WindowsChecked,
				differing, rewritten, skipped, behind, len(truth))
		}
	}

	// Run 1: the closed late windows are repaired everywhere, the open
	// ones skipped.
	res, err := reconcile.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	check("run 1", res, len(lateWin), len(fixed), open, nil)
	if res.LateEvents != 6*partitions { // the engine sent every too-late event to the late topic
		t.Fatalf("run 1: %d late events, want %d", res.LateEvents, 6*partitions)
	}
	want := map[string]total.Total{}
	for k, tt := range truth {
		want[k] = tt
	}
	for _, k := range open {
		want[k] = engine[k] // not written
	}
	top := within(latest(t, ctx, addrs, topics.Aggregates), t0, t0+300_000)
	if d := diffTotals(top, want); d != "" {
		t.Fatalf("aggregates topic after run 1: %s", d)
	}
	for _, k := range fixed {
		if !top[k].Closed {
			t.Fatalf("%s: repaired total not Closed", k)
		}
	}
	// InfluxDB now (direct write), and still after the sink wrote the
	// published totals.
	if d := diffTotals(stored(t, ctx, ic, from, to), want); d != "" {
		t.Fatalf("InfluxDB after run 1: %s", d)
	}
	if err := qs.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	waitQuery(t, ctx, qs, want, t0, 60_000)
	waitQuery(t, ctx, qs, want, t0, 300_000)

	// Phase 2, with the engine stopped: events up to t0+360s (they close
	// the 5m window once processed) and one more too-late event per
	// partition in [t0, t0+1m), a window run 1 repaired.
	stopEngine()
	evs = evs[:0]
	for p := range int32(partitions) {
		for i := range 13 {
			evs = append(evs, produced{p, event.Event{ID: fmt.Sprintf("p%d-f%d", p, i), Key: key(p, i), Type: "VIEW", Value: 1, TS: t0 + 312_000 + int64(i)*4000}})
		}
		e := event.Event{ID: fmt.Sprintf("p%d-late-again", p), Key: key(p, 0), Type: "VIEW", Value: 7.25, TS: t0 + 30_000}
		evs = append(evs, produced{p, e})
		markLate(p, e)
	}
	send(evs)
	truth = truthOf(prod, t0, t0+300_000)
	diff2 := differing(truth, want)
	if len(diff2) != 3*partitions {
		t.Fatalf("phase 2 changed %d windows (%v), want %d", len(diff2), diff2, 3*partitions)
	}

	// Run 2: the engine is behind on every partition: nothing is written.
	res, err = reconcile.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	check("run 2 (engine stopped)", res, len(diff2), 0, diff2, []int32{0, 1, 2})

	// Run 3, aggregates only, after the engine processed phase 2: every
	// window is closed and repaired; InfluxDB gets it through the sink.
	stopEngine = startEngine()
	defer func() { stopEngine() }()
	waitEngine(t, ctx, cl, topics.Events)
	cfg.AggregatesOnly = true
	res, err = reconcile.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	check("run 3 (aggregates only)", res, len(diff2), len(diff2), nil, nil)
	if res.LateEvents != 7*partitions {
		t.Fatalf("run 3: %d late events, want %d", res.LateEvents, 7*partitions)
	}
	if d := diffTotals(within(latest(t, ctx, addrs, topics.Aggregates), t0, t0+300_000), truth); d != "" {
		t.Fatalf("aggregates topic after run 3: %s", d)
	}
	waitInflux(t, ctx, ic, from, to, truth)
	waitQuery(t, ctx, qs, truth, t0, 60_000)
	waitQuery(t, ctx, qs, truth, t0, 300_000)

	// Run 4: nothing left.
	res, err = reconcile.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	check("run 4", res, 0, 0, nil, nil)
}

// run runs fn in a goroutine; the returned stop cancels it and waits.
func run(t *testing.T, ctx context.Context, name string, fn func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	stopped := false
	return func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(time.Minute):
			t.Errorf("%s did not stop in a minute", name)
		}
	}
}

// waitEngine waits until the engine group committed every partition of
// topic up to its end.
func waitEngine(t *testing.T, ctx context.Context, cl *kgo.Client, topic string) {
	t.Helper()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		offs, err := adm.FetchOffsets(kadm.RequireStable(ctx), aggregate.DefaultGroup)
		done := err == nil
		ends.Each(func(o kadm.ListedOffset) {
			c, ok := offs.Lookup(topic, o.Partition)
			done = done && ok && c.Err == nil && c.At >= o.Offset
		})
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine did not commit up to %v in a minute (%v, %v)", ends, offs, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// truthOf counts prod (in produce order; first record of each (partition,
// id) counts) into 1m and 5m windows starting in [from, to).
func truthOf(prod []produced, from, to int64) map[string]total.Total {
	out := map[string]total.Total{}
	seen := map[string]bool{}
	for _, pe := range prod {
		id := fmt.Sprint(pe.p, "/", pe.e.ID)
		if seen[id] {
			continue
		}
		seen[id] = true
		e := pe.e
		for _, s := range []int64{60_000, 300_000} {
			st := e.TS - e.TS%s
			if st < from || st >= to {
				continue
			}
			k := win{s, st, e.Key, e.Type, e.DimSet(), int(pe.p)}.recordKey()
			a, ok := out[k]
			if !ok {
				a = total.Total{Key: e.Key, Type: e.Type, DimSet: e.DimSet(), Sub: int(pe.p), Start: st, Size: s, Min: e.Value, Max: e.Value}
			}
			a.Count++
			a.Sum += e.Value
			a.Min, a.Max = min(a.Min, e.Value), max(a.Max, e.Value)
			out[k] = a
		}
	}
	return out
}

func within(m map[string]total.Total, from, to int64) map[string]total.Total {
	out := map[string]total.Total{}
	for k, t := range m {
		if t.Start >= from && t.Start < to {
			out[k] = t
		}
	}
	return out
}

func same(a, b total.Total) bool {
	return a.Count == b.Count && a.Sum == b.Sum && a.Min == b.Min && a.Max == b.Max
}

// differing lists the keys of want whose total got does not have (sorted).
func differing(want, got map[string]total.Total) []string {
	var out []string
	for k, w := range want {
		if g, ok := got[k]; !ok || !same(g, w) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// diffTotals describes how got differs from want ("" when equal).
func diffTotals(got, want map[string]total.Total) string {
	for k, w := range want {
		if g, ok := got[k]; !ok || !same(g, w) {
			return fmt.Sprintf("%s: got %+v, want %+v", k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			return fmt.Sprintf("%s: unexpected %+v", k, g)
		}
	}
	return ""
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func stored(t *testing.T, ctx context.Context, ic influx.Config, from, to time.Time) map[string]total.Total {
	t.Helper()
	c := influxdb2.NewClientWithOptions(ic.URL, ic.Token, influxdb2.DefaultOptions().SetPrecision(time.Millisecond))
	defer c.Close()
	got, err := reconcile.Stored(ctx, c.QueryAPI(ic.Org), ic.Bucket, from, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]total.Total, len(got))
	for k, v := range got {
		out[k] = *v
	}
	return out
}

// waitInflux waits until InfluxDB holds exactly want over [from, to).
func waitInflux(t *testing.T, ctx context.Context, ic influx.Config, from, to time.Time, want map[string]total.Total) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := diffTotals(stored(t, ctx, ic, from, to), want)
		if d == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("InfluxDB not as expected after 30s: %s", d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitQuery waits until the query service answers, for every (key, type)
// of want, the count of want's windows of size over [t0, t0+5m).
func waitQuery(t *testing.T, ctx context.Context, qs *query.Server, want map[string]total.Total, t0, size int64) {
	t.Helper()
	type kt struct{ key, typ string }
	counts := map[kt]int64{}
	for _, w := range want {
		if w.Size == size {
			counts[kt{w.Key, w.Type}] += w.Count
		}
	}
	ask := func(k kt) int64 {
		q := url.Values{"type": {k.typ}, "window": {(time.Duration(size) * time.Millisecond).String()},
			"from": {strconv.FormatInt(t0, 10)}, "to": {strconv.FormatInt(t0+300_000, 10)}}
		rec := httptest.NewRecorder()
		qs.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/v1/counts/"+url.PathEscape(k.key)+"?"+q.Encode(), nil))
		var body struct {
			Count  int64  `json:"count"`
			Source string `json:"source"`
		}
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Source != "memory" {
			t.Fatalf("query %v: %d %s", k, rec.Code, rec.Body)
		}
		return body.Count
	}
	deadline := time.Now().Add(30 * time.Second)
	for k, c := range counts {
		for {
			got := ask(k)
			if got == c {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("query %v window %dms: count %d, want %d", k, size, got, c)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
