package reconcile_test

import (
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/reconcile"
	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/engine/total"
)

// TestReconcileEngineRules: reconcile applies the engine's rules
// (docs/ingest-contract.md), so over what the real engine counted it finds
// nothing to repair: events produced as kcat does (CRC32 of the key, or no
// key and a random partition), which the engine moves to their canonical
// partitions; repeats of (key, id) with other ts and values; one id under
// two keys; an event ahead of its record timestamp by more than the max
// future skew (refused). Then, with the engine stopped, records outside
// their canonical partition that have no moved copy yet are counted by
// reconcile at their canonical partition.
func TestReconcileEngineRules(t *testing.T) {
	st := newStack(t, 2*time.Minute)
	ic, conn, cl, topics, ctx := st.ic, st.conn, st.cl, st.topics, st.ctx
	log := testLogger()
	sizes := []time.Duration{time.Minute, 5 * time.Minute}
	hot := map[string]int{"hot": 3}
	w, err := aggregate.New(aggregate.Conn(conn), aggregate.Logger(log), aggregate.TransactionalID("rules-engine"),
		aggregate.Windows(sizes...), aggregate.IdleTimeout(time.Hour), aggregate.HotKeys(hot))
	if err != nil {
		t.Fatal(err)
	}
	stopEngine := run(t, ctx, "engine", w.Run)
	defer stopEngine()
	snk, err := sink.New(sink.Kafka(conn), sink.Influx(ic), sink.Logger(log))
	if err != nil {
		t.Fatal(err)
	}
	defer snk.Close()
	defer run(t, ctx, "sink", snk.Run)()

	t0 := total.WindowStart(time.Now().Add(-time.Hour).UnixMilli(), 300_000)
	from, to := time.UnixMilli(t0), time.UnixMilli(t0+300_000)
	rng := rand.New(rand.NewPCG(5, 6))
	// kcat produces like librdkafka's consistent_random partitioner, with
	// the record timestamp left at the client default (now).
	kcat := func(evs []event.Event, keyed bool) {
		t.Helper()
		rs := make([]*kgo.Record, len(evs))
		for i := range evs {
			r := &kgo.Record{Topic: topics.Events, Value: event.AppendJSON(nil, &evs[i]), Partition: rng.Int32N(partitions)}
			if keyed {
				r.Key = []byte(evs[i].Key)
				r.Partition = int32(crc32.ChecksumIEEE(r.Key) % partitions)
			}
			rs[i] = r
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	canonical := func(e *event.Event) int {
		return int(kafka.Partition(kafka.AppendRecordKey(nil, hot, e.Key, e.ID), partitions))
	}
	// The truth: each (key, id) once, the first sent (each round is
	// counted before the next is sent), at its canonical partition.
	truth := map[string]total.Total{}
	seen := map[string]bool{}
	count := func(evs []event.Event) {
		for _, e := range evs {
			if seen[e.Key+"\x00"+e.ID] || e.TS > time.Now().Add(5*time.Minute).UnixMilli() {
				continue
			}
			seen[e.Key+"\x00"+e.ID] = true
			for _, s := range []int64{60_000, 300_000} {
				tt := total.Total{Key: e.Key, Type: e.Type, DimSet: e.DimSet(), Sub: canonical(&e), Start: total.WindowStart(e.TS, s), Size: s}
				k := string(tt.RecordKey())
				if old, ok := truth[k]; ok {
					tt = old
				}
				tt.Add(e.Value)
				truth[k] = tt
			}
		}
	}
	round := func(evs []event.Event, keyed bool) {
		t.Helper()
		kcat(evs, keyed)
		count(evs)
		waitInflux(t, ctx, ic, from, to, truth)
	}
	// Event times span 50s: moved records reach their canonical partition
	// a commit after the records produced there, so no window may close
	// (1m + 15s lateness) before the last of them, or it would be late
	// there (counted by reconcile, as the contract says, not the engine).
	var first []event.Event
	for i := range 120 {
		key := fmt.Sprintf("k%d", i%7)
		if i%5 == 0 {
			key = "hot"
		}
		first = append(first, event.Event{ID: fmt.Sprintf("e%d", i), Key: key, Type: "VIEW", Value: float64(i%9 + 1), TS: t0 + int64(i)*250})
	}
	round(first[:60], true)
	round(first[60:], false)
	// Repeats of (key, id) with other ts and values, sent the other way;
	// the same ids under another key (counted); an event 1h ahead of its
	// record timestamp (refused).
	var again []event.Event
	for i, e := range first {
		switch i % 3 {
		case 0:
			e.TS += 20_000
			e.Value += 100
		case 1:
			e.Key += "-other"
		}
		again = append(again, e)
	}
	again = append(again, event.Event{ID: "future", Key: "k1", Type: "VIEW", Value: 1, TS: time.Now().Add(time.Hour).UnixMilli()})
	round(again, true)

	cfg := reconcile.Config{Kafka: conn, Influx: ic, From: from, To: to, Windows: sizes, DryRun: true, HotKeys: hot,
		Idle: 3 * time.Second, MaxDifferences: 1000, WaitForEngine: -1, Logger: log}
	res, err := reconcile.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("with the engine: %+v", withoutDiffs(res))
	if res.WindowsDiffering != 0 || res.EventsMoved == 0 || res.WindowsChecked != len(truth) || res.Malformed != 1 {
		t.Fatalf("reconcile differs from the engine: %+v", res)
	}

	// Records outside their canonical partition the stopped engine has not
	// moved: reconcile counts them at their canonical partition.
	stopEngine()
	var last []event.Event
	for i := range 20 {
		last = append(last, event.Event{ID: fmt.Sprintf("late-run-%d", i), Key: fmt.Sprintf("k%d", i%7), Type: "CLICK", Value: 2, TS: t0 + 200_000 + int64(i)*1000})
	}
	kcat(last, false)
	before := len(truth)
	count(last)
	res, err = reconcile.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.WindowsChecked != len(truth) || res.WindowsDiffering != len(truth)-before || res.WindowsMissing != len(truth)-before {
		t.Fatalf("with unmoved originals: %+v, want %d new windows", withoutDiffs(res), len(truth)-before)
	}
	for _, d := range res.Differences {
		if d.Truth == nil || !same(*d.Truth, truth[d.Window]) {
			t.Fatalf("difference %s: truth %+v, want %+v", d.Window, d.Truth, truth[d.Window])
		}
	}
}
