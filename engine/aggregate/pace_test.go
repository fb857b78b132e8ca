package aggregate

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestPaceInterval(t *testing.T) {
	w := &Worker{cfg: defaultCfg()}
	base, maxI := w.cfg.commitInterval, w.cfg.maxCommitInterval
	now := time.Now()
	poll := func(hwm int64, age time.Duration) {
		w.pace.lagAge = 0
		ft := kgo.FetchTopicPartition{FetchPartition: kgo.FetchPartition{HighWatermark: hwm,
			Records: []*kgo.Record{{Offset: 9, Timestamp: now.Add(-age)}}}}
		w.pace.observe(&ft, now)
	}
	for _, c := range []struct {
		name string
		hwm  int64
		age  time.Duration
		want time.Duration
	}{
		{"caught up, old records", 10, time.Hour, base},
		{"behind a little", 11, base / 2, base},
		{"behind", 11, 300 * time.Millisecond, 300 * time.Millisecond},
		{"far behind", 11, time.Hour, maxI},
		{"record times ahead", 11, -time.Minute, base},
	} {
		poll(c.hwm, c.age)
		if got := w.interval(); got != c.want {
			t.Errorf("%s: interval %v, want %v", c.name, got, c.want)
		}
	}
	w.pace.full = true
	if got := w.interval(); got != 0 {
		t.Errorf("full batch: interval %v, want 0", got)
	}
	w.pace.full = false
	w.cfg.maxCommitInterval = 0 // off: never longer than the commit interval
	poll(11, time.Hour)
	if got := w.interval(); got != base {
		t.Errorf("pacing off: interval %v, want %v", got, base)
	}
}

// A batch commits once a partition's new dedup ids reach maxBatchIDs,
// however long the intervals: the changelog record stays bounded, and the
// totals are exact.
func TestPaceFullBatchCommits(t *testing.T) {
	e := newEnv(t, 1)
	evs := gen(1, 3*maxBatchIDs, 0, base, 120_000)
	e.produce(evs)
	// Polls of 1000 records: the batch fills poll by poll.
	w, stop := e.worker(CommitInterval(time.Hour), MaxCommitInterval(time.Hour), MaxPollRecords(1000))
	<-w.Ready()
	deadline := time.Now().Add(60 * time.Second)
	for counterValue(w.m.commits) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := counterValue(w.m.commits); n < 2 {
		t.Fatalf("%v commits of %d events with an hour's interval, want >= 2 (one per %d new ids)", n, len(evs), maxBatchIDs)
	}
	// Every record polled (the last batch is open: an hour's interval),
	// then a graceful stop commits it.
	for counterValue(w.m.consumed) < float64(len(evs)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	e.waitCommitted(DefaultGroup, 30*time.Second)
	for _, r := range e.readTopic(w.cfg.changelog) {
		if len(r.Value) > 1<<20 {
			t.Errorf("changelog record of %d bytes", len(r.Value))
		}
	}
	compare(t, e.finalTotals(), truth(evs, sizes))
}

// One poll of more than maxChangelogIDs new ids on one partition (a whole
// buffered fetch: the default) commits as one batch whose ids go in
// several changelog records of its transaction, each under the record
// limit; a worker restored from them drops every duplicate of that batch:
// the totals are exact after the restart.
func TestChangelogChunksRestore(t *testing.T) {
	e := newEnv(t, 1)
	evs := gen(1, 2*maxChangelogIDs+500, 0, base, 120_000)
	e.produce(evs) // all on the broker before the worker fetches
	big := ClientOpts(kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(64<<20))
	w, stop := e.worker(CommitInterval(time.Hour), MaxCommitInterval(time.Hour), big)
	<-w.Ready()
	e.waitCommitted(DefaultGroup, 60*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := counterValue(w.m.commits); n != 1 {
		t.Fatalf("%v commits, want the one batch of the one poll", n)
	}
	cl := e.readTopic(w.cfg.changelog)
	ids := 0
	for _, r := range cl {
		n := 0
		if _, err := readChangelog(r.Value, w.dedupWidth, func(idHash, int64) { n++ }); err != nil {
			t.Fatal(err)
		}
		if n > maxChangelogIDs || len(r.Value) > 1<<20 {
			t.Errorf("changelog record of %d ids, %d bytes", n, len(r.Value))
		}
		ids += n
	}
	if len(cl) < 3 || ids != len(evs) {
		t.Fatalf("%d changelog records of %d ids, want >= 3 records of %d", len(cl), ids, len(evs))
	}

	// A new worker restores from the records and sees every event again.
	restoredDropsAll(t, e, evs, big)
}

// restoredDropsAll produces evs again to a new worker, which restores the
// dedup state from the committed changelog: it must drop every event as a
// duplicate, and the totals stay exact.
func restoredDropsAll(t *testing.T, e *env, evs []tev, opts ...Opt) {
	t.Helper()
	e.produce(evs)
	w, stop := e.worker(opts...)
	<-w.Ready()
	e.waitCommitted(DefaultGroup, 60*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if hits := counterValue(w.m.dedupHits); hits != float64(len(evs)) {
		t.Errorf("restored worker dropped %v duplicates, want %d", hits, len(evs))
	}
	compare(t, e.finalTotals(), truth(evs, sizes))
}

// A batch's changelog goes out in records while the batch is open, one per
// changelogChunkIDs new ids of a partition (polls of 1000 records), all in
// the batch's transaction: when the worker dies before the commit, the
// aborted batch's records are never read back; the next worker redoes the
// batch, and a third, restored from the committed records alone, drops
// every duplicate of the events. Each committed id is in exactly one
// committed record, and the totals are exact.
func TestChangelogMidBatchAborted(t *testing.T) {
	e := newEnv(t, 1)
	evs := gen(1, maxBatchIDs+3*changelogChunkIDs+300, 0, base, 120_000)
	e.produce(evs)
	slow := []Opt{CommitInterval(time.Hour), MaxCommitInterval(time.Hour), MaxPollRecords(1000)}

	w, err := New(append([]Opt{Conn(e.conn), Logger(testLogger()), TransactionalID("test-txn-0"),
		Windows(sizes...), IdleTimeout(time.Hour), HotKeys(testHot)}, slow...)...)
	if err != nil {
		t.Fatal(err)
	}
	var ended atomic.Bool
	killed := errors.New("killed")
	w.beforeEnd = func() error {
		ended.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.cl.Flush(ctx); err != nil {
			t.Error(err)
		}
		return killed // the batch's records are on the broker, uncommitted
	}
	_, stop := e.start(w)
	<-w.Ready()
	deadline := time.Now().Add(60 * time.Second)
	for !ended.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); !errors.Is(err, killed) {
		t.Fatalf("worker stopped with %v, want the kill", err)
	}
	if n := counterValue(w.m.changelogInBatch); n < 3 { // made by process: none after the kill
		t.Fatalf("%v changelog records before the first commit, want >= 3 (one per %d ids)", n, changelogChunkIDs)
	}

	// The redo commits when a batch is full and, for the rest, at 2 s:
	// each batch still has several chunks' ids.
	w2, stop2 := e.worker(CommitInterval(2*time.Second), MaxCommitInterval(2*time.Second), MaxPollRecords(1000))
	<-w2.Ready()
	e.waitCommitted(DefaultGroup, 60*time.Second)
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	cl := e.readTopic(w2.cfg.changelog)
	seen := make(map[idHash]int, len(evs))
	for _, r := range cl {
		if _, err := readChangelog(r.Value, w2.dedupWidth, func(h idHash, _ int64) { seen[h]++ }); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != len(evs) {
		t.Errorf("%d ids in the committed changelog, want %d", len(seen), len(evs))
	}
	for h, n := range seen {
		if n != 1 {
			t.Fatalf("id %v in %d committed records, want 1", h, n)
		}
	}
	if commits := counterValue(w2.m.commits); float64(len(cl)) <= commits {
		t.Errorf("%d changelog records for %v commits: none made before its commit", len(cl), commits)
	}
	if made := counterValue(w2.m.changelogInBatch) + counterValue(w2.m.changelogAtCommit); made != float64(len(cl)) {
		t.Errorf(`changelog_records_total = %v (batch and commit), want the %d committed records (no abort)`, made, len(cl))
	}

	restoredDropsAll(t, e, evs) // every event again, to a worker restored from the changelog
}
