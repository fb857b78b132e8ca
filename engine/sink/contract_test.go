package sink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/influxd"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/engine/total"
)

// Keys and dimension values the event validator accepts that line protocol
// or Flux must escape or that are easy to get wrong (issue 12, F4).
var (
	hardKeys = []string{
		"a,b", "a b", "a=b", `it's`, `say "hi"`, "emoji 😀🎉", "中文キー", strings.Repeat("k", 256),
		"#hash", "#", "/path/to", "a?b=c&d=e", "100%", "%20", " lead", "trail ", "  ", " ,= ",
		"a\u00a0b", "é", "\u2028", "{}[]()", "$x ${y}", "tab-free|pipe", "'", `"`, "=", ",", "a,b=c d",
	}
	hardDimValues = []string{
		"a b", `it's`, `say "hi"`, "😀", "中文", strings.Repeat("v", 128), "#", "/x/", "a?b&c", "100%",
		" lead", "trail ", "é", "{x}",
	}
)

// sinkEnv is a test's InfluxDB (its own database db) and Kafka, and a
// context bounding the test.
func sinkEnv(t *testing.T, within time.Duration) (*influxd.Server, influx.Config, string, []string, context.Context) {
	t.Helper()
	srv, ic := sharedInflux(t)
	return srv, ic, strings.TrimSuffix(ic.Bucket, "/autogen"), newKafka(t), ctxT(t, within)
}

// TestSinkStoresKeysByteExact: every key and dim value above passes the
// validator, goes through the sink into the real influxd, and reads back
// byte-exact with Flux (influxdb-client-go) and InfluxQL (/query).
func TestSinkStoresKeysByteExact(t *testing.T) {
	srv, ic, db, addrs, ctx := sinkEnv(t, 60*time.Second)
	v, err := event.NewValidator()
	if err != nil {
		t.Fatal(err)
	}

	var ts []total.Total
	add := func(key string, dims []event.Dim) {
		e := event.Event{ID: "e", Key: key, Type: "VIEW", Value: 1, TS: base, Dims: dims}
		if err := v.ValidateAt(&e, base); err != nil {
			t.Fatalf("the validator refuses %q %q: %v", key, dims, err)
		}
		i := len(ts)
		ts = append(ts, total.Total{Key: key, Type: "VIEW", DimSet: e.DimSet(), Sub: i % partitions,
			Start: base, Size: 60_000, Count: int64(i + 1), Sum: float64(i) + 0.5, Min: 0.5, Max: float64(i)})
	}
	for _, k := range hardKeys {
		add(k, nil)
	}
	for i, d := range hardDimValues {
		add(fmt.Sprintf("dims-%d", i), []event.Dim{{Name: "a", Value: d}, {Name: "z_9", Value: hardDimValues[(i+1)%len(hardDimValues)]}})
	}

	p := newTxnProducer(t, addrs, "agg-keys")
	if err := p.txn(ctx, ts, true); err != nil {
		t.Fatal(err)
	}
	s := startSink(t, addrs, ic)
	want := truthOf(ts...)
	waitEqual(t, ic, want, 30*time.Second) // Flux, compared by record key: key and dims bytes
	if st := s.Stats(); st.DeadLettered != 0 {
		t.Fatalf("dead-lettered %d totals", st.DeadLettered)
	}
	s.stop(t)

	// InfluxQL: the tags of every series, as the 1.8 query endpoint
	// returns them.
	out := influxQL(t, srv.URL(), `SELECT "count" FROM `+db+`.autogen.`+influx.Measurement+` GROUP BY *`)
	b, _ := json.Marshal(out)
	var r struct {
		Results []struct {
			Series []struct {
				Tags   map[string]string `json:"tags"`
				Values [][]any           `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &r); err != nil || len(r.Results) != 1 {
		t.Fatalf("InfluxQL answer %s: %v", b, err)
	}
	got := map[string]int64{}
	for _, se := range r.Results[0].Series {
		tg := se.Tags
		dims := tg[influx.TagDims]
		for _, d := range total.ParseDimSet(dims) {
			if tg[influx.DimTagPrefix+d[0]] != d[1] {
				t.Errorf("series %q: tag %s%s = %q, want %q", tg[influx.TagKey], influx.DimTagPrefix, d[0], tg[influx.DimTagPrefix+d[0]], d[1])
			}
		}
		n, _ := se.Values[0][1].(float64)
		got[tg[influx.TagKey]+"|"+dims] = int64(n)
	}
	for _, tt := range ts {
		k := tt.Key + "|" + tt.DimSet
		if got[k] != tt.Count {
			t.Errorf("InfluxQL: %q dims %q: count %d, want %d", tt.Key, tt.DimSet, got[k], tt.Count)
		}
		delete(got, k)
	}
	for k := range got {
		t.Errorf("InfluxQL: unexpected series %q", k)
	}
}

// TestSinkRefusesTimesOutsideNanoseconds: a window InfluxDB cannot store at
// its own time (after 2262-04-11T23:47:16Z or before 1677-09-21) is
// dead-lettered with the reason, never written at a wrapped time (issue
// 12, F5: a year-2999 total was stored at 1830).
func TestSinkRefusesTimesOutsideNanoseconds(t *testing.T) {
	srv, ic, db, addrs, ctx := sinkEnv(t, 60*time.Second)

	good := gen(0, 1)
	far := gen(1, 1)
	far.Key, far.Start = "year-2999", time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	early := gen(2, 1)
	early.Key, early.Start = "year-1600", time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	p := newTxnProducer(t, addrs, "agg-range")
	if err := p.txn(ctx, []total.Total{far, good, early}, true); err != nil {
		t.Fatal(err)
	}
	s := startSink(t, addrs, ic)
	waitEqual(t, ic, truthOf(good), 30*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats().DeadLettered < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	s.stop(t)

	out := influxQL(t, srv.URL(), `SELECT "count" FROM `+db+`.autogen.`+influx.Measurement+` WHERE "key" = 'year-2999' OR "key" = 'year-1600'`)
	if b, _ := json.Marshal(out); strings.Contains(string(b), "values") {
		t.Fatalf("out-of-range totals were written: %s", b)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(sink.DeadLetterTopic("")),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var keys []string
	for len(keys) < 2 && ctx.Err() == nil {
		fs := cl.PollRecords(ctx, 10)
		for _, r := range fs.Records() {
			got, err := total.Unmarshal(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if reason := kafka.Header(r, kafka.HeaderReason); !strings.Contains(reason, "outside InfluxDB's time range") {
				t.Fatalf("reason %q", reason)
			}
			keys = append(keys, got.Key)
		}
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"year-1600", "year-2999"}) {
		t.Fatalf("dead-lettered %q", keys)
	}
}
