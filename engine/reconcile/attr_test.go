package reconcile_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/enrich"
	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/reconcile"
)

// TestReconcileRepairsAttributes: the attribute totals of a window are
// wrong in attr-aggregates and InfluxDB (as a window-granularity join, and
// without a too-late event, would leave them); reconcile joins every
// recounted event at its time with the metadata topic (a move in the
// middle of the window, a deletion, an entity never known) and writes the
// per-event totals to both; a second run finds nothing to repair.
func TestReconcileRepairsAttributes(t *testing.T) {
	st := newStack(t, 2*time.Minute)
	ic, addrs, cl, topics, ctx := st.ic, st.addrs, st.cl, st.topics, st.ctx
	if err := enrich.EnsureTopics(ctx, cl, enrich.DefaultTopic, enrich.DefaultTotalsTopic, 1, partitions); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	base := from.UnixMilli()
	part := func(key string) int32 { return kafka.Partition([]byte(key), partitions) }

	// Metadata: v1 in a, moves to b at +30 s; v3 in a, deleted at +20 s
	// (a JSON deletion) and v4 (a null-value tombstone) at +25 s; v2
	// never known.
	meta := func(key string, v []byte) *kgo.Record {
		return &kgo.Record{Topic: enrich.DefaultTopic, Partition: 0, Key: []byte(key), Value: v}
	}
	recs := []*kgo.Record{
		meta("v1@1", []byte(`{"entity":"v1","ts":1,"attrs":{"channel":"a"}}`)),
		meta("v1@x", []byte(`{"entity":"v1","ts":`+itoa(base+30_000)+`,"attrs":{"channel":"b"}}`)),
		meta("v3@1", []byte(`{"entity":"v3","ts":1,"attrs":{"channel":"a"}}`)),
		meta("v3@x", []byte(`{"entity":"v3","ts":`+itoa(base+20_000)+`,"deleted":true}`)),
		meta("v4@1", []byte(`{"entity":"v4","ts":1,"attrs":{"channel":"a"}}`)),
		meta("v4@"+itoa(base+25_000), nil),
	}
	ev := func(id, key string, ms int64, v float64) {
		e := event.Event{ID: id, Key: key, Type: "VIEW", Value: v, TS: base + ms}
		recs = append(recs, &kgo.Record{Topic: topics.Events, Partition: part(key), Key: []byte(key), Value: event.AppendJSON(nil, &e), Timestamp: time.UnixMilli(e.TS)})
	}
	ev("1", "v1", 10_000, 2)
	ev("2", "v1", 40_000, 3) // after the move: b
	ev("3", "v2", 5_000, 1)
	ev("4", "v3", 10_000, 4)
	ev("5", "v3", 50_000, 5) // after the deletion: unknown
	ev("6", "v4", 30_000, 6) // after the tombstone: unknown
	for p := range int32(partitions) {
		// Ticks two minutes on, outside the range: every window of the
		// range is far behind its partition's events, so safe.
		k := "tick"
		for i := 0; part(k) != p; i++ {
			k = "tick" + itoa(int64(i))
		}
		ev("t"+itoa(int64(p)), k, 180_000, 1)
	}
	// What a window-granularity engine wrote (v1's window whole to b;
	// v3's to unknown), written to the topic and InfluxDB.
	wrong := []enrich.AttrTotal{
		{Attr: "channel", Value: "b", Type: "VIEW", Sub: int(part("v1")), Start: base, Size: 60_000, Count: 2, Sum: 5, Min: 2, Max: 3, Keys: 1},
		{Attr: "channel", Value: "a", Type: "VIEW", Sub: int(part("v4")), Start: base, Size: 60_000, Count: 1, Sum: 6, Min: 6, Max: 6, Keys: 1},
	}
	w := influxdb2.NewClient(ic.URL, ic.Credential()).WriteAPIBlocking(ic.Org, ic.Bucket)
	for i := range wrong {
		v, _ := json.Marshal(&wrong[i])
		recs = append(recs, &kgo.Record{Topic: enrich.DefaultTotalsTopic, Partition: int32(wrong[i].Sub), Key: wrong[i].RecordKey(), Value: v})
		if err := w.WritePoint(ctx, wrong[i].Point()); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	const group = "reconcile-test-engine"
	commitEnd(t, ctx, cl, group, topics.Events)
	cfg := reconcile.Config{
		Kafka: kafka.Conn{Brokers: addrs}, Influx: ic, From: from, To: from.Add(time.Minute), EngineGroup: group,
		Windows: []time.Duration{time.Minute}, Idle: 3 * time.Second, Lateness: time.Second, OutOfOrderness: time.Second,
		Enrich: &reconcile.Enrich{MetadataTopic: enrich.DefaultTopic, TotalsTopic: enrich.DefaultTotalsTopic, Attrs: []string{"channel"}},
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	// Per event: a = v1@10s (2), v3@10s (4); b = v1@40s (3); unknown =
	// v2 (1), v3@50s (5), v4@30s (6). Per partition, as the engine
	// writes them.
	type vk struct {
		value string
		sub   int
	}
	want := map[vk]enrich.AttrTotal{}
	for _, e := range []struct {
		key, value string
		v          float64
	}{{"v1", "a", 2}, {"v3", "a", 4}, {"v1", "b", 3}, {"v2", enrich.Unknown, 1}, {"v3", enrich.Unknown, 5}, {"v4", enrich.Unknown, 6}} {
		k := vk{e.value, int(part(e.key))}
		at := want[k]
		if at.Count == 0 {
			at.Min, at.Max = e.v, e.v
		}
		at.Count++
		at.Sum += e.v
		at.Min, at.Max = min(at.Min, e.v), max(at.Max, e.v)
		want[k] = at
	}
	res, err := reconcile.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := res.Attributes
	t.Logf("attributes: %+v", a)
	// The wrong v4 total (value a) has no event behind it: a zero total.
	if a == nil || a.Versions != 6 || a.WindowsDiffering != len(want)+1 || a.WindowsRewritten != len(want)+1 || a.WindowsSkippedOpen != 0 {
		t.Fatalf("first run: %+v, want %d differing and rewritten", a, len(want)+1)
	}
	check := func(name string, got map[string]enrich.AttrTotal) {
		t.Helper()
		n := 0
		for _, g := range got {
			if g.Start != base || g.Size != 60_000 || g.Count == 0 {
				continue
			}
			n++
			w, ok := want[vk{g.Value, g.Sub}]
			if !ok || g.Count != w.Count || g.Sum != w.Sum || g.Min != w.Min || g.Max != w.Max {
				t.Errorf("%s: %s/%d: got %+v, want %+v", name, g.Value, g.Sub, g, w)
			}
		}
		if n != len(want) {
			t.Errorf("%s: %d non-zero totals, want %d: %+v", name, n, len(want), got)
		}
	}
	check("topic", latestAttrs(t, ctx, addrs))
	stored, err := reconcile.StoredAttrs(ctx, influxdb2.NewClient(ic.URL, ic.Credential()).QueryAPI(ic.Org), ic.Bucket, from, from.Add(time.Minute), []int64{60_000}, []string{"channel"})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]enrich.AttrTotal{}
	for k, v := range stored {
		byKey[k] = *v
	}
	check("influxdb", byKey)
	res, err = reconcile.Run(ctx, cfg)
	if err != nil || res.Attributes.WindowsDiffering != 0 || res.Attributes.WindowsRewritten != 0 {
		t.Fatalf("second run: %+v, %v; want nothing to repair", res.Attributes, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// latestAttrs is the newest attribute total per record key of the totals
// topic.
func latestAttrs(t *testing.T, ctx context.Context, addrs []string) map[string]enrich.AttrTotal {
	t.Helper()
	out := map[string]enrich.AttrTotal{}
	for k, v := range latestValues(t, ctx, addrs, enrich.DefaultTotalsTopic) {
		at, err := enrich.UnmarshalAttrTotal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = at
	}
	return out
}
