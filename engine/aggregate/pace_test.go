package aggregate

import (
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
	e.produce(evs)
	w2, stop2 := e.worker(big)
	<-w2.Ready()
	e.waitCommitted(DefaultGroup, 60*time.Second)
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	if hits := counterValue(w2.m.dedupHits); hits != float64(len(evs)) {
		t.Errorf("restored worker dropped %v duplicates, want %d", hits, len(evs))
	}
	compare(t, e.finalTotals(), truth(evs, sizes))
}
