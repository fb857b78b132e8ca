package aggregate

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
)

// Regression tests of issue 12 against the ingest contract
// (docs/ingest-contract.md), on real kfake.

// counter reads a counter metric.
func counter(t *testing.T, c interface{ Write(*dto.Metric) error }) int {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return int(m.GetCounter().GetValue())
}

// onTime makes n events of key at the current time, for Kafka-direct
// records with the client's default timestamp (their ts is <= the produce
// time, so they are on time).
func onTime(n int, prefix, key string, parts int32) []tev {
	out := make([]tev, 0, n)
	for i := range n {
		e := event.Event{ID: fmt.Sprintf("%s-%d", prefix, i), Key: key, Type: "VIEW", Value: float64(i%7 + 1), TS: time.Now().UnixMilli()}
		out = append(out, tev{p: canon(&e, parts), e: e, direct: true})
	}
	return out
}

// TestFutureEventDoesNotMakeOnTimeLate (issue 12, F1): an event 4 minutes
// ahead of its record timestamp (inside the max future skew) is counted in
// its own window and does not move the watermark past its ingest time, so
// the 200 on-time events after it in its partition are all counted; the
// same after a restart of the worker on the same broker (the watermark is
// restored as committed).
func TestFutureEventDoesNotMakeOnTimeLate(t *testing.T) {
	e := newEnv(t, 2)
	key := keyOn("f", 0, 2)
	fut := event.Event{ID: "future", Key: key, Type: "VIEW", Value: 100, TS: time.Now().Add(4 * time.Minute).UnixMilli()}
	evs := []tev{{p: 0, e: fut, direct: true}}
	evs = append(evs, onTime(200, "a", key, 2)...)
	e.produce(evs)
	w := e.run(CommitInterval(20 * time.Millisecond))
	compare(t, e.finalTotals(), truth(evs, sizes))
	if n := counter(t, w.m.late); n != 0 {
		t.Fatalf("%d events late, want 0", n)
	}

	// Restart (same transactional id, as a restarted process) and send
	// an event 1 hour ahead (beyond the max future skew: dead-lettered
	// with code ts_future) and 200 more on-time events.
	far := event.Event{ID: "far", Key: key, Type: "VIEW", Value: 1, TS: time.Now().Add(time.Hour).UnixMilli()}
	more := append([]tev{{p: 0, e: far, raw: event.AppendJSON(nil, &far)}}, onTime(200, "b", key, 2)...)
	e.produce(more)
	evs = append(evs, more...)
	w2 := e.run(CommitInterval(20 * time.Millisecond))
	compare(t, e.finalTotals(), truth(evs, sizes))
	if n := counter(t, w2.m.late) + len(e.readTopic(e.topics.Late)); n != 0 {
		t.Fatalf("%d events late after the restart, want 0", n)
	}
	dl := e.readTopic(e.topics.DeadLetter)
	if len(dl) != 1 || kafka.Header(dl[0], event.HeaderReasonCode) != event.CodeTSFuture ||
		!strings.HasPrefix(kafka.Header(dl[0], kafka.HeaderReason), "ts: ") || string(dl[0].Value) != string(more[0].raw) {
		for _, r := range dl {
			t.Logf("dead letter %q headers %v", r.Value, r.Headers)
		}
		t.Fatalf("%d dead-letter records, want the +1h event with code %s", len(dl), event.CodeTSFuture)
	}
}

// TestIdentity: identity is (key, id). The same id under two keys is two
// events; a repeat of (key, id) with another ts (other windows), type,
// value and dims is a duplicate, also after a restart (the fingerprint is
// restored from the changelog).
func TestIdentity(t *testing.T) {
	e := newEnv(t, 2)
	ka, kb := keyOn("a", 0, 2), keyOn("b", 1, 2)
	mk := func(key, id, typ string, v float64, ts int64, dims ...event.Dim) tev {
		ev := event.Event{ID: id, Key: key, Type: typ, Value: v, TS: ts, Dims: dims}
		return tev{p: canon(&ev, 2), e: ev}
	}
	evs := []tev{
		mk(ka, "x", "VIEW", 1, base+1000),
		mk(kb, "x", "VIEW", 2, base+1000), // another key: counted
		mk(ka, "y", "VIEW", 3, base+2000), // counted
		mk(kb, "y", "VIEW", 4, base+75_000),
		mk(ka, "x", "CLICK", 5, base+21_000, event.Dim{Name: "country", Value: "US"}), // repeat, other 10s window: dup
		mk(ka, "x", "VIEW", 7, base+70_000),                                           // repeat, other 1m window: dup
	}
	e.produce(evs)
	w := e.run(CommitInterval(20 * time.Millisecond))
	if n := counter(t, w.m.dedupHits); n != 2 {
		t.Fatalf("%d duplicates, want 2", n)
	}
	more := []tev{mk(ka, "x", "VIEW", 9, base+80_000), mk(kb, "y", "LIKE", 9, base+76_000)}
	e.produce(more)
	evs = append(evs, more...)
	w2 := e.run(CommitInterval(20*time.Millisecond), TransactionalID("test-txn-1"))
	if n := counter(t, w2.m.dedupHits); n != 2 {
		t.Fatalf("after the restart %d duplicates, want 2", n)
	}
	compare(t, e.finalTotals(), truth(evs, sizes))
}

// TestLateFirstCopyWins: the first copy in the log wins, on time or too
// late. A too-late first copy goes to the late topic and its identity is
// remembered (in the changelog too): after a restart, a repeat with an
// on-time ts is a duplicate, not counted (a reconcile counting the late
// copy would otherwise count the event twice), and a too-late repeat is a
// duplicate, not a second late record.
func TestLateFirstCopyWins(t *testing.T) {
	e := newEnv(t, 2)
	k := keyOn("lw", 0, 2)
	mk := func(id string, ts int64, late bool) tev {
		return tev{p: 0, e: event.Event{ID: id, Key: k, Type: "VIEW", Value: 1, TS: ts}, late: late}
	}
	// The jump moves the watermark to base+10m-5s: base+30s is too late.
	evs := []tev{mk("jump", base+10*60_000, false), mk("z", base+30_000, true)}
	e.produce(evs)
	w := e.run(CommitInterval(20 * time.Millisecond))
	if n := counter(t, w.m.late); n != 1 {
		t.Fatalf("%d late, want 1", n)
	}
	more := []tev{mk("z", base+10*60_000, false), mk("z", base+40_000, false)}
	e.produce(more)
	evs = append(evs, more...)
	w2 := e.run(CommitInterval(20*time.Millisecond), TransactionalID("test-txn-1"))
	if d, l := counter(t, w2.m.dedupHits), counter(t, w2.m.late); d != 2 || l != 0 {
		t.Fatalf("after the restart %d duplicates and %d late, want 2 and 0", d, l)
	}
	if n := len(e.readTopic(e.topics.Late)); n != 1 {
		t.Fatalf("late topic has %d records, want 1", n)
	}
	compare(t, e.finalTotals(), truth(evs, sizes))
}

// TestMovedRecords (issue 12, F9): 200 events produced as kcat does with
// librdkafka's default partitioner (consistent_random: CRC32 of the key,
// random without a key), then the same 200 again the other way round, with
// a worker crash mid-transaction in between: each is counted exactly once
// at its canonical partition, and every record found elsewhere has exactly
// one committed moved copy there (neither lost nor moved twice).
func TestMovedRecords(t *testing.T) {
	const parts = 4
	e := newEnv(t, parts)
	evs := gen(parts, 200, 0, base, 20_000)
	rng := rand.New(rand.NewPCG(7, 8))
	kcat := func(evs []tev, keyed func(id int) bool) {
		rs := make([]*kgo.Record, 0, len(evs))
		for i := range evs {
			ev := &evs[i].e
			var id int
			fmt.Sscanf(ev.ID, "id-%d", &id)
			r := &kgo.Record{Topic: e.topics.Events, Value: event.AppendJSON(nil, ev), Timestamp: time.UnixMilli(ev.TS)}
			if keyed(id) {
				r.Key = []byte(ev.Key)
				r.Partition = int32(crc32.ChecksumIEEE(r.Key) % parts)
			} else {
				r.Partition = rng.Int32N(parts)
			}
			rs = append(rs, r)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	w, err := New(Conn(e.conn), Logger(testLogger()), TransactionalID("test-txn-0"), Windows(sizes...),
		IdleTimeout(time.Hour), CommitInterval(time.Millisecond), MaxPollRecords(30), HotKeys(testHot))
	if err != nil {
		t.Fatal(err)
	}
	commits := killAtCommit(t, w, 3) // moved records on the broker, uncommitted
	_, stop := e.start(w)
	<-w.Ready()
	// Round 1 in chunks while the worker runs, the rest once it is dead.
	even := func(i int) bool { return i%2 == 0 }
	i := 0
	for ; i < len(evs) && commits.Load() < 3; i += 20 {
		kcat(evs[i:min(i+20, len(evs))], even)
		time.Sleep(15 * time.Millisecond)
	}
	if err := stop2(stop, commits, 3); !errors.Is(err, killed) {
		t.Fatalf("worker stopped with %v, want the kill", err)
	}
	if counter(t, w.m.moved) == 0 {
		t.Fatal("the killed worker moved nothing")
	}
	if i < len(evs) {
		kcat(evs[i:], even)
	}
	kcat(evs, func(i int) bool { return i%2 == 1 })
	w2, stopW2 := e.worker(CommitInterval(20 * time.Millisecond))
	<-w2.Ready()
	e.waitProcessed(DefaultGroup, 60*time.Second)
	if err := stopW2(); err != nil {
		t.Fatal(err)
	}
	compare(t, e.finalTotals(), truth(evs, sizes))

	// Every original outside its canonical partition has exactly one
	// committed moved copy, at its canonical partition, unchanged.
	originals := map[string]*kgo.Record{}
	copies := map[string]int{}
	var ev event.Event
	for _, r := range e.readTopic(e.topics.Events) {
		ev.Reset()
		if _, err := event.Decode(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		c := canon(&ev, parts)
		if from := kafka.Header(r, kafka.HeaderMovedFrom); from != "" {
			copies[from]++
			if r.Partition != c || string(r.Key) != string(kafka.AppendRecordKey(nil, testHot, ev.Key, ev.ID)) {
				t.Errorf("moved copy of %s at partition %d key %q, canonical %d", from, r.Partition, r.Key, c)
			}
			continue
		}
		if r.Partition != c {
			originals[fmt.Sprintf("%d/%d", r.Partition, r.Offset)] = r
		}
	}
	if len(originals) == 0 {
		t.Fatal("no record outside its canonical partition")
	}
	for o := range originals {
		if copies[o] != 1 {
			t.Errorf("original %s has %d moved copies, want 1", o, copies[o])
		}
	}
	if len(copies) != len(originals) {
		t.Errorf("%d moved copies of %d originals", len(copies), len(originals))
	}
	t.Logf("%d of 400 records moved to their canonical partition", len(originals))
}

var killed = errors.New("killed")

// killAtCommit makes w's n'th commit flush the batch's records and then
// stop the worker with killed before the transaction ends (a crash
// mid-transaction); it returns the commit counter.
func killAtCommit(t *testing.T, w *Worker, n int32) *atomic.Int32 {
	var commits atomic.Int32
	w.beforeEnd = func() error {
		if commits.Add(1) == n {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := w.cl.Flush(ctx); err != nil {
				t.Error(err)
			}
			return killed
		}
		return nil
	}
	return &commits
}

// run starts a worker, waits until it has committed every events offset
// and stops it.
func (e *env) run(opts ...Opt) *Worker {
	e.t.Helper()
	w, stop := e.worker(opts...)
	<-w.Ready()
	e.waitCommitted(DefaultGroup, 30*time.Second)
	if err := stop(); err != nil {
		e.t.Fatal(err)
	}
	return w
}

// stop2 waits until commits reaches n (or 30s), then stops the worker.
func stop2(stop func() error, commits *atomic.Int32, n int32) error {
	deadline := time.Now().Add(30 * time.Second)
	for commits.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return stop()
}

// waitProcessed waits until group's committed offset of every events
// partition is past its last committed data record. Moved records are
// produced in transactions, so an events partition may end with a commit
// marker the group's offset never passes (waitCommitted would not end).
func (e *env) waitProcessed(group string, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		last := map[int32]int64{}
		for _, r := range e.readTopic(e.topics.Events) {
			last[r.Partition] = max(last[r.Partition], r.Offset+1)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, err := e.adm.FetchOffsets(ctx, group)
		cancel()
		done := err == nil
		for p, end := range last {
			if c, ok := got.Lookup(e.topics.Events, p); !ok || c.At < end {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("group %s did not process every events record in %v (last err %v)", group, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
