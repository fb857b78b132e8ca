package target

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/oracle"
)

// truthOf is an oracle of n events over keys, sent now (no late ones).
func truthOf(t *testing.T, n int, keys []string) (*oracle.Oracle, []sim.Item) {
	t.Helper()
	o, err := run.NewTruth([]time.Duration{10 * time.Second}, time.Hour, 0) // as a run makes it
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Minute).UnixMilli()
	items := make([]sim.Item, n)
	for i := range items {
		items[i].Event = event.Event{ID: "e" + strconv.Itoa(i), Key: keys[i%len(keys)], Type: []string{"VIEW", "CLICK"}[i%2],
			Value: float64(i%7) + 0.5, TS: base + int64(i)*97}
	}
	return o, items
}

func ack(o *oracle.Oracle, it *sim.Item) {
	o.Add(sim.OracleSent(it, sim.JSON, true, time.Now().UnixMilli(), sim.Acked))
}

// TestKafkaIngest produces through the target's Kafka ingest to a real
// kfake broker and counts what is in the topic: every acknowledged event
// once, in the partition of its key by Kafka's murmur2, equal to the
// truth per window.
func TestKafkaIngest(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tg := New(Spec{Name: "k", Ingest: Ingest{Kafka: &KafkaIngest{Brokers: c.ListenAddrs(), Topic: "events", Key: "key", Encoding: "json", Partitioner: "murmur2"}},
		Semantics: Semantics{Windows: []time.Duration{10 * time.Second}}}, t.TempDir())
	defer tg.Close()
	tr, err := tg.Transport(2)
	if err != nil {
		t.Fatal(err)
	}
	truth, items := truthOf(t, 2000, []string{"a", "b b", "c/1", "d"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := make([]sim.Outcome, 100)
	for i := 0; i < len(items); i += 100 {
		if err := tr.Send(ctx, items[i:i+100], out); err != nil {
			t.Fatal(err)
		}
		for j, o := range out {
			if o != sim.Acked {
				t.Fatalf("event %d: outcome %v", i+j, o)
			}
			ack(truth, &items[i+j])
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[oracle.WindowKey]oracle.Total{}
	n := 0
	for n < len(items) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records", n, len(items))
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			var e event.Event
			if err := event.DecodeJSON(r.Value, &e); err != nil {
				t.Fatalf("record %s: %v", r.Value, err)
			}
			if string(r.Key) != e.Key || r.Partition != kafka.Partition(r.Key, 4) {
				t.Fatalf("record key %q partition %d for key %q", r.Key, r.Partition, e.Key)
			}
			k := oracle.WindowKey{Size: 10000, Start: e.TS - e.TS%10000, Type: e.Type, Key: e.Key}
			tot := got[k]
			tot.Count++
			tot.Sum += e.Value
			got[k] = tot
		})
	}
	want := truth.Windows(oracle.ByKey, false)
	if len(want) != len(got) {
		t.Fatalf("%d windows in the topic, truth %d", len(got), len(want))
	}
	for _, w := range want {
		if got[w.WindowKey] != w.Total {
			t.Errorf("window %+v: topic %+v, truth %+v", w.WindowKey, got[w.WindowKey], w.Total)
		}
	}
}

// TestStoresAgainstInfluxd writes the truth's windows to a real influxd as
// a pipeline would (line protocol, a row per sub-key that the readers
// must sum), reads them back through an InfluxQL and a Flux target and
// checks them with reports.Check and no query service: exact; then one
// window counted twice is found and named.
func TestStoresAgainstInfluxd(t *testing.T) {
	srv := influxdtest.Start(t)
	truth, items := truthOf(t, 3000, []string{"k1", "k2", "k,3", "k 4", "k=5"})
	for i := range items {
		ack(truth, &items[i])
	}
	want := truth.Windows(oracle.ByKey, false)
	esc := strings.NewReplacer(",", `\,`, " ", `\ `, "=", `\=`)
	var lp strings.Builder
	for _, w := range want {
		// Two sub-key rows per window: the readers sum them.
		half := w.Count / 2
		fmt.Fprintf(&lp, "counts,key=%s,type=%s,sub=0 count=%di,sum=%v %d\n", esc.Replace(w.Key), w.Type, half, w.Sum-1, w.Start)
		fmt.Fprintf(&lp, "counts,key=%s,type=%s,sub=1 count=%di,sum=1 %d\n", esc.Replace(w.Key), w.Type, w.Count-half, w.Start)
	}
	write := func(body string) {
		t.Helper()
		resp, err := http.Post(srv.URL()+"/write?db=countlab&precision=ms", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("write: %d", resp.StatusCode)
		}
	}
	write(lp.String())
	stores := map[string]Read{
		"influxql": {InfluxQL: &InfluxQL{URL: srv.URL(), Database: "countlab",
			Query: `SELECT "count","sum","key","type" FROM counts WHERE time >= {from} AND time < {to}`}},
		"flux": {Flux: &Flux{URL: srv.URL(), Org: "any",
			Query: `from(bucket: "countlab/autogen") |> range(start: {from}, stop: {to}) |> filter(fn: (r) => r._measurement == "counts")`}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for name, rd := range stores {
		spec := Spec{Name: name, Ingest: Ingest{HTTP: &HTTPIngest{URL: "http://127.0.0.1:1"}}, Read: rd, Semantics: Semantics{Windows: []time.Duration{10 * time.Second}}}
		spec.applyDefaults()
		if err := spec.Validate(); err != nil {
			t.Fatal(err)
		}
		tg := New(spec, t.TempDir())
		st, err := tg.Store()
		if err != nil {
			t.Fatal(err)
		}
		acc, err := reports.Check(ctx, truth, nil, reports.CheckConfig{Store: st, StoreByKey: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !acc.Exact || !acc.QuerySkipped || acc.Store == nil || acc.Store.WindowsChecked != len(want) || acc.CountedEvents != int64(len(items)) {
			t.Fatalf("%s: %+v", name, acc)
		}
		t.Logf("%s: %d windows exact, %d events", name, acc.WindowsChecked, acc.CountedEvents)
	}
	// Count window 0 twice more (its sub 1 row rewritten) and add a key
	// the truth does not have.
	w := want[0]
	write(fmt.Sprintf("counts,key=%s,type=%s,sub=1 count=%di,sum=1 %d\ncounts,key=stray,type=VIEW count=1i,sum=1 %d\n",
		esc.Replace(w.Key), w.Type, w.Count-w.Count/2+2, w.Start, w.Start))
	for name, rd := range stores {
		spec := Spec{Name: name, Read: rd, Semantics: Semantics{Windows: []time.Duration{10 * time.Second}}}
		spec.applyDefaults()
		st, _ := New(spec, t.TempDir()).Store()
		acc, err := reports.Check(ctx, truth, nil, reports.CheckConfig{Store: st, StoreByKey: true})
		if err != nil {
			t.Fatal(err)
		}
		s := acc.Store
		if acc.Exact || s.DuplicatedWindows != 2 || s.Duplicated != 3 || s.UnexpectedWindows != 1 || s.LostWindows != 0 { // +2 in one window, the stray one
			t.Fatalf("%s after a double count: %+v", name, s)
		}
		var named bool
		for _, d := range s.WorstWindows {
			named = named || d.Key == w.Key && d.Type == w.Type && d.Start.UnixMilli() == w.Start && d.GotCount == w.Count+2
		}
		if !named {
			t.Errorf("%s: the double-counted window %+v is not named: %v", name, w.WindowKey, s.WorstWindows)
		}
	}
}
