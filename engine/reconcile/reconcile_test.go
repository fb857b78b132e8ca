package reconcile_test

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/reconcile"
	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/engine/total"
)

const partitions = 3

type win struct {
	size, start int64
	key, typ    string
	dims        string
	sub         int
}

func (w win) recordKey() string {
	return fmt.Sprintf("%d|%s|%s|%s|%d|%d", w.size, w.typ, w.key, w.dims, w.sub, w.start)
}

type agg struct {
	count         int64
	sum, min, max float64
}

func TestReconcileRepairsExactly(t *testing.T) {
	st := newStack(t, 2*time.Minute)
	ic, addrs, cl, topics, ctx := st.ic, st.addrs, st.cl, st.topics, st.ctx

	from := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	to := from.Add(10 * time.Minute)
	sizes := []int64{60_000, 300_000}
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"video-1", "video 2", `k"e,y= x`, "ad-9", "url/x?y=z"}
	types := []string{"VIEW", "CLICK"}
	dimsets := [][]event.Dim{nil, {{Name: "country", Value: "US"}}, {{Name: "country", Value: "DE"}, {Name: "device", Value: "ios"}}}
	part := func(key string) int32 { return kafka.Partition([]byte(key), partitions) }

	// Events: JSON and protobuf, some re-sent (duplicates, possibly in the
	// other encoding), some outside the range, some malformed.
	var recs []*kgo.Record
	var distinct []event.Event
	encode := func(e *event.Event, proto bool) []byte {
		if proto {
			return event.AppendProto(nil, e)
		}
		return event.AppendJSON(nil, e)
	}
	for i := range 3000 {
		e := event.Event{
			ID:    fmt.Sprintf("ev-%d", i),
			Key:   keys[rng.IntN(len(keys))],
			Type:  types[rng.IntN(len(types))],
			Value: float64(rng.IntN(100)) / 4,
			TS:    from.Add(-3*time.Minute).UnixMilli() + rng.Int64N(16*60_000),
			Dims:  dimsets[rng.IntN(len(dimsets))],
		}
		distinct = append(distinct, e)
		// Record timestamps at the event time: a replay of the past
		// (the validation's reference time is the record timestamp).
		recs = append(recs, &kgo.Record{Topic: topics.Events, Partition: part(e.Key), Key: []byte(e.Key), Value: encode(&e, i%2 == 0), Timestamp: time.UnixMilli(e.TS)})
		if i%7 == 0 { // a duplicate, later
			d := e
			recs = append(recs, &kgo.Record{Topic: topics.Events, Partition: part(e.Key), Key: []byte(e.Key), Value: encode(&d, i%2 == 1), Timestamp: time.UnixMilli(e.TS)})
		}
	}
	// Any order: a duplicate may come before its original (same content).
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	malformed := [][]byte{[]byte("not an event"), []byte(`{"id":"x"}`), []byte(`{"id":"y","key":"k","type":"NOPE","ts":1}`)}
	for i, m := range malformed {
		recs = append(recs, &kgo.Record{Topic: topics.Events, Partition: int32(i % partitions), Value: m})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// An aborted transaction of valid events (must not count), then a
	// committed one (counts), so the topic ends with transaction markers.
	txn, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID("reconcile-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	for _, commit := range []bool{false, true} {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		var trecs []*kgo.Record
		for j := range 30 {
			e := event.Event{ID: fmt.Sprintf("txn-%v-%d", commit, j), Key: keys[j%len(keys)], Type: "VIEW", Value: 1000, TS: from.UnixMilli() + int64(j)*10_000}
			trecs = append(trecs, &kgo.Record{Topic: topics.Events, Partition: part(e.Key), Key: []byte(e.Key), Value: encode(&e, j%2 == 0), Timestamp: time.UnixMilli(e.TS)})
			if commit {
				distinct = append(distinct, e)
				recs = append(recs, trecs[len(trecs)-1])
			}
		}
		if err := txn.ProduceSync(ctx, trecs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	// Late events: copies of some events, in the late topic.
	var late []*kgo.Record
	wantLate := 0
	for i := 0; i < 300; i += 3 {
		e := distinct[i]
		late = append(late, &kgo.Record{Topic: topics.Late, Partition: part(e.Key), Value: event.AppendJSON(nil, &e), Timestamp: time.UnixMilli(e.TS)})
		if inRange(e.TS, sizes, from, to) {
			wantLate++
		}
	}
	if err := cl.ProduceSync(ctx, late...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// The truth, computed here: first record per (partition, id) in produce
	// order per partition; windows aligned by plain arithmetic.
	truth := map[string]agg{}
	seen := map[string]bool{}
	byID := map[string]event.Event{}
	for _, e := range distinct {
		byID[e.ID] = e
	}
	for _, r := range recs {
		var e event.Event
		if _, err := event.Decode(r.Value, &e); err != nil || e.Type == "NOPE" || e.Key == "" {
			continue
		}
		id := fmt.Sprint(r.Partition, "/", e.ID)
		if seen[id] {
			continue
		}
		seen[id] = true
		for _, size := range sizes {
			start := e.TS - e.TS%size
			if start < from.UnixMilli() || start >= to.UnixMilli() {
				continue
			}
			k := win{size, start, e.Key, e.Type, e.DimSet(), int(r.Partition)}.recordKey()
			a, ok := truth[k]
			if !ok {
				a.min, a.max = e.Value, e.Value
			}
			a.count++
			a.sum += e.Value
			a.min, a.max = min(a.min, e.Value), max(a.max, e.Value)
			truth[k] = a
		}
	}
	if len(truth) < 50 {
		t.Fatalf("only %d windows", len(truth))
	}

	// InfluxDB: the truth, except some windows wrong, some missing, one
	// extra, and one wrong window outside the range (must stay wrong).
	influx := influxdb2.NewClientWithOptions(ic.URL, ic.Token, influxdb2.DefaultOptions().SetPrecision(time.Millisecond))
	defer influx.Close()
	w := influx.WriteAPIBlocking(ic.Org, ic.Bucket)
	var pts []*write.Point
	wrong, missing := 0, 0
	i := 0
	for k, a := range truth {
		tt := toTotal(t, k, a)
		switch {
		case i%11 == 0:
			missing++
		case i%5 == 0:
			tt.Count++
			wrong++
			pts = append(pts, sink.Point(&tt))
		case i%13 == 0:
			tt.Sum += 0.25
			wrong++
			pts = append(pts, sink.Point(&tt))
		default:
			pts = append(pts, sink.Point(&tt))
		}
		i++
	}
	extra := total.Total{Key: "ghost", Type: "VIEW", Size: 60_000, Start: from.UnixMilli() + 60_000, Count: 5, Sum: 5, Min: 1, Max: 1}
	outside := total.Total{Key: "video-1", Type: "VIEW", Size: 60_000, Start: to.UnixMilli(), Count: 12345, Sum: 1, Min: 1, Max: 1}
	pts = append(pts, sink.Point(&extra), sink.Point(&outside))
	if err := w.WritePoint(ctx, pts...); err != nil {
		t.Fatal(err)
	}

	// No engine runs here (this test is about the recount): a group of its
	// own, committed at the end of the events topic, stands for an engine
	// that has processed everything. Every window is far behind the
	// largest event time of its partition, so all are safe.
	const group = "reconcile-test-engine"
	commitEnd(t, ctx, cl, group, topics.Events)
	cfg := reconcile.Config{
		Kafka: kafka.Conn{Brokers: addrs}, Influx: ic, From: from, To: to, EngineGroup: group,
		Windows: []time.Duration{time.Minute, 5 * time.Minute}, Idle: 3 * time.Second, MaxDifferences: 10000,
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	// The aggregates topic is empty: every window differs there.
	wantDiff := len(truth) + 1
	t.Logf("InfluxDB: %d wrong, %d missing", wrong, missing)
	f := func(name string, dry bool, differing, rewritten int) {
		t.Helper()
		cfg.DryRun = dry
		res, err := reconcile.Run(ctx, cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %+v", name, withoutDiffs(res))
		for _, d := range res.Differences {
			if d.Truth == nil {
				t.Logf("extra %s %+v", d.Window, d.Stored)
			}
		}
		wantRead := int64(len(recs)) // every committed record, malformed included
		if res.EventsRead != wantRead || res.Malformed != int64(len(malformed)) ||
			res.LateEvents != int64(wantLate) || res.WindowsChecked != len(truth)+1 ||
			res.WindowsDiffering != differing || res.WindowsRewritten != rewritten ||
			res.WindowsSkippedOpen != 0 || len(res.PartitionsEngineBehind) != 0 {
			t.Fatalf("%s: got %+v\nwant read %d malformed %d late %d checked %d differing %d rewritten %d",
				name, withoutDiffs(res), wantRead, len(malformed), wantLate, len(truth)+1, differing, rewritten)
		}
		if differing > 0 && (res.WindowsMissing != missing || res.WindowsExtra != 1 || res.WindowsTopicDiffering != len(truth)) {
			t.Fatalf("%s: missing %d extra %d topic differing %d, want %d 1 %d", name,
				res.WindowsMissing, res.WindowsExtra, res.WindowsTopicDiffering, missing, len(truth))
		}
	}
	f("dry run", true, wantDiff, 0)
	f("repair", false, wantDiff, wantDiff)
	f("again", false, 0, 0)

	got, err := reconcile.Stored(ctx, influx.QueryAPI(ic.Org), ic.Bucket, from, to.Add(time.Minute), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, a := range truth {
		g, ok := got[k]
		if !ok || g.Count != a.count || g.Sum != a.sum || g.Min != a.min || g.Max != a.max {
			t.Fatalf("%s: InfluxDB %+v, truth %+v", k, g, a)
		}
	}
	if g := got[string(extra.RecordKey())]; g == nil || g.Count != 0 || g.Sum != 0 {
		t.Fatalf("extra window: %+v, want a zero total", g)
	}
	if g := got[string(outside.RecordKey())]; g == nil || g.Count != outside.Count {
		t.Fatalf("window outside the range changed: %+v", g)
	}
	if len(got) != len(truth)+2 {
		t.Fatalf("InfluxDB has %d windows, want %d", len(got), len(truth)+2)
	}
	// The aggregates topic: the truth, Closed, and the zeroed ghost.
	top := latest(t, ctx, addrs, topics.Aggregates)
	for k, a := range truth {
		g, ok := top[k]
		if !ok || !g.Closed || g.Count != a.count || g.Sum != a.sum || g.Min != a.min || g.Max != a.max {
			t.Fatalf("%s: aggregates topic %+v, truth %+v", k, g, a)
		}
	}
	if g, ok := top[string(extra.RecordKey())]; !ok || g.Count != 0 || g.Sum != 0 {
		t.Fatalf("extra window in the topic: %+v, want a zero total", g)
	}
	if len(top) != len(truth)+1 {
		t.Fatalf("aggregates topic has %d windows, want %d", len(top), len(truth)+1)
	}
}

func inRange(ts int64, sizes []int64, from, to time.Time) bool {
	for _, s := range sizes {
		if st := ts - ts%s; st >= from.UnixMilli() && st < to.UnixMilli() {
			return true
		}
	}
	return false
}

func toTotal(t *testing.T, k string, a agg) total.Total {
	t.Helper()
	var w win
	// recordKey is size|type|key|dims|sub|start; keys here have no '|'.
	parts := splitN(k, '|')
	if len(parts) != 6 {
		t.Fatalf("bad key %q", k)
	}
	fmt.Sscan(parts[0], &w.size)
	fmt.Sscan(parts[4], &w.sub)
	fmt.Sscan(parts[5], &w.start)
	return total.Total{Key: parts[2], Type: parts[1], DimSet: parts[3], Sub: w.sub, Start: w.start, Size: w.size,
		Count: a.count, Sum: a.sum, Min: a.min, Max: a.max}
}

func splitN(s string, sep byte) []string {
	var out []string
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			out = append(out, s[last:i])
			last = i + 1
		}
	}
	return append(out, s[last:])
}

func withoutDiffs(r reconcile.Result) reconcile.Result {
	r.Differences = nil
	return r
}
