package aggregate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
)

var sizes = []time.Duration{10 * time.Second, time.Minute}

// TestExact pushes on-time events, duplicates, out-of-order events within
// the lateness, too-late events and malformed records through one worker
// and compares the committed totals with the truth exactly.
func TestExact(t *testing.T) {
	e := newEnv(t, 4)
	// With duplicates: the same events again, a little later.
	evs := withDups(gen(4, 2000, 0, base, 90_000), 7, 40)
	// Out of order but within lateness on partition 0: 12s behind the
	// newest event there (watermark = newest - 5s; its 10s window ends
	// less than 15s before the watermark).
	p0max := int64(0)
	for _, ev := range evs {
		if ev.p == 0 && ev.e.TS > p0max {
			p0max = ev.e.TS
		}
	}
	ooo := event.Event{ID: "ooo-1", Key: keyOn("ooo", 0, 4), Type: "VIEW", Value: 2, TS: p0max - 12_000}
	evs = append(evs, tev{p: 0, e: ooo})
	// Malformed records.
	evs = append(evs,
		tev{p: 1, raw: []byte(`{"id":"x","key":"k1"`), e: event.Event{Key: "k1"}},
		tev{p: 2, raw: []byte(`{"id":"y","key":"k2","type":"NOPE","ts":1767225600000}`), e: event.Event{Key: "k2"}},
		tev{p: 3, raw: []byte{0xff, 0x01}, e: event.Event{Key: "k3"}},
	)
	e.produce(evs)

	w, stop := e.worker()
	select {
	case <-w.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("worker not ready")
	}
	e.waitCommitted(DefaultGroup, 30*time.Second)

	// Now push partition 1's watermark far ahead, then send events that
	// are too late there, and a too-late repeat of a counted event: a
	// duplicate (the first copy in the log wins), not a late record.
	k1 := keyOn("late", 1, 4)
	jump := tev{p: 1, e: event.Event{ID: "jump", Key: k1, Type: "VIEW", Value: 1, TS: base + 10*60_000}}
	var onP1 tev
	for _, ev := range evs {
		if ev.p == 1 && ev.raw == nil {
			onP1 = ev
			break
		}
	}
	dupLate := onP1
	late := []tev{
		{p: 1, e: event.Event{ID: "late-1", Key: k1, Type: "VIEW", Value: 1, TS: base + 30_000}, late: true},
		dupLate,
	}
	e.produce([]tev{jump})
	e.produce(late)
	evs = append(evs, jump)
	evs = append(evs, late...)
	e.waitCommitted(DefaultGroup, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	got := e.finalTotals()
	compare(t, got, truth(evs, sizes))

	// Windows of partition 1 behind the jump are closed.
	closed := 0
	for _, tot := range got {
		if tot.Sub == 1 && tot.Closed {
			closed++
		}
		if tot.Sub == 1 && tot.Start+tot.Size+DefaultLateness.Milliseconds() <= base+10*60_000-5000 && !tot.Closed {
			t.Errorf("window %s of partition 1 behind the watermark is not closed", tot.RecordKey())
		}
	}
	if closed == 0 {
		t.Error("no closed window on partition 1")
	}
	// The metrics count exactly what happened.
	dups, seen := 0, map[string]bool{}
	for _, ev := range evs {
		if ev.raw != nil || ev.late {
			continue
		}
		if seen[ev.e.Key+"\x00"+ev.e.ID] {
			dups++
		}
		seen[ev.e.Key+"\x00"+ev.e.ID] = true
	}
	f := func(name string, c interface{ Write(*dto.Metric) error }, want int) {
		t.Helper()
		var m dto.Metric
		if err := c.Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetCounter().GetValue(); got != float64(want) {
			t.Errorf("metric %s = %v, want %d", name, got, want)
		}
	}
	f("dedup hits", w.m.dedupHits, dups)
	f("late", w.m.late, 1)
	f("malformed", w.m.malformed, 3)
	f("consumed", w.m.consumed, len(evs))
	f("counted", w.m.counted, len(seen))

	lateRecs := e.readTopic(e.topics.Late)
	if len(lateRecs) != 1 {
		t.Fatalf("late topic has %d records, want 1", len(lateRecs))
	}
	dl := e.readTopic(e.topics.DeadLetter)
	if len(dl) != 3 {
		t.Fatalf("dead-letter topic has %d records, want 3", len(dl))
	}
	for _, r := range dl {
		if kafka.Header(r, kafka.HeaderSource) != "engine" || kafka.Header(r, kafka.HeaderReason) == "" || kafka.Header(r, kafka.HeaderOrigin) == "" ||
			kafka.Header(r, event.HeaderReasonCode) == "" {
			t.Errorf("dead-letter record headers %v", r.Headers)
		}
	}
}

// TestCrashMidTransaction kills the worker between producing a batch and
// committing it, several times, restarts it (same transactional id, as a
// restarted process would), and sends duplicates of already counted
// events after each restart: nothing is lost or double counted.
func TestCrashMidTransaction(t *testing.T) {
	e := newEnv(t, 3)
	var all []tev
	wave := func(i int) []tev {
		evs := gen(3, 600, i*600, base+int64(i)*20_000, 20_000)
		if i > 0 {
			// duplicates of the previous wave, sent after the restart
			prev := all[len(all)-600:]
			for j := 0; j < len(prev); j += 5 {
				evs = append(evs, prev[j])
			}
		}
		return evs
	}
	for round := range 4 {
		evs := wave(round)
		all = append(all, evs...)
		w, err := New(Conn(e.conn), Logger(testLogger()), TransactionalID("test-txn-0"),
			Windows(sizes...), IdleTimeout(time.Hour), CommitInterval(20*time.Millisecond), MaxPollRecords(100), HotKeys(testHot))
		if err != nil {
			t.Fatal(err)
		}
		var commits atomic.Int32
		killed := errors.New("killed")
		if round < 3 {
			w.beforeEnd = func() error {
				if commits.Add(1) == 4 {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if err := w.cl.Flush(ctx); err != nil {
						t.Error(err)
					}
					return killed // the batch's records are on the broker, uncommitted
				}
				return nil
			}
		}
		_, stop := e.start(w)
		<-w.Ready()
		// Produce in small chunks until the kill (the 4th commit),
		// the rest while the worker is down.
		i := 0
		for ; i < len(evs); i += 30 {
			if round < 3 && commits.Load() >= 4 {
				break
			}
			e.produce(evs[i:min(i+30, len(evs))])
			time.Sleep(15 * time.Millisecond)
		}
		if round < 3 {
			deadline := time.Now().Add(30 * time.Second)
			for commits.Load() < 4 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if commits.Load() < 4 && os.Getenv("COUNTLAB_TEST_DUMP") != "" {
				pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
			}
			if err := stop(); !errors.Is(err, killed) {
				t.Fatalf("round %d: worker stopped with %v, want the kill", round, err)
			}
			if i < len(evs) {
				e.produce(evs[i:])
			}
			continue
		}
		e.waitCommitted(DefaultGroup, 60*time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	compare(t, e.finalTotals(), truth(all, sizes))
}

// TestRebalance runs two workers in one group while events flow; one
// joins late and the first leaves before the end.
func TestRebalance(t *testing.T) {
	e := newEnv(t, 4)
	var all []tev
	_, stopA := e.worker(TransactionalID("txn-a"), CommitInterval(20*time.Millisecond), MaxPollRecords(200))
	for i := range 6 {
		evs := withDups(gen(4, 500, i*500, base+int64(i)*15_000, 15_000), 9, 30)
		all = append(all, evs...)
		e.produce(evs)
		switch i {
		case 1:
			e.worker(TransactionalID("txn-b"), CommitInterval(20*time.Millisecond), MaxPollRecords(200))
		case 4:
			if err := stopA(); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	e.waitCommitted(DefaultGroup, 60*time.Second)
	compare(t, e.finalTotals(), truth(all, sizes))
}

// TestPlantBug shows the planted bug makes the totals differ from the truth.
func TestPlantBug(t *testing.T) {
	e := newEnv(t, 2)
	evs := gen(2, 500, 0, base, 30_000)
	e.produce(evs)
	_, stop := e.worker(PlantBug(50))
	e.waitCommitted(DefaultGroup, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := truth(evs, sizes)
	got := e.finalTotals()
	diff := 0
	for k, w := range want {
		if got[k].Count != w.Count {
			diff++
		}
	}
	if diff == 0 {
		t.Fatal("planted bug changed no total")
	}
}

func TestConfigValidate(t *testing.T) {
	f := func(want string, opts ...Opt) {
		t.Helper()
		_, err := New(append([]Opt{Conn(kafka.Conn{Brokers: []string{"127.0.0.1:1"}})}, opts...)...)
		switch {
		case want == "" && err != nil:
			t.Fatalf("unexpected error %v", err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Fatalf("error %v, want it to mention %q", err, want)
		}
	}
	f("")
	f("dedup horizon", Windows(time.Hour))
	f("", Windows(time.Hour), DedupHorizon(time.Hour+20*time.Second))
	f("window size", Windows(0))
	f("commit interval", CommitInterval(0))
	f("no brokers", Conn(kafka.Conn{}))
	f("hot key share", HotKeyShare(2))
	_ = fmt.Sprint()
}

// TestIdlePartitionAndRestoredWatermark: an idle partition's windows close
// once the other partition's watermark passes them; the watermark survives
// a restart, so an event too late before the restart is too late after.
func TestIdlePartitionAndRestoredWatermark(t *testing.T) {
	e := newEnv(t, 2)
	opts := []Opt{IdleTimeout(300 * time.Millisecond), CommitInterval(20 * time.Millisecond)}
	w, stop := e.worker(opts...)
	<-w.Ready()
	ka, kb := keyOn("a", 0, 2), keyOn("b", 1, 2)
	evs := []tev{
		{p: 1, e: event.Event{ID: "p1-a", Key: kb, Type: "VIEW", Value: 1, TS: base + 1000}},
		{p: 0, e: event.Event{ID: "p0-a", Key: ka, Type: "VIEW", Value: 1, TS: base + 1000}},
	}
	e.produce(evs)
	e.waitCommitted(DefaultGroup, 20*time.Second)
	time.Sleep(500 * time.Millisecond) // partition 1 goes idle
	more := []tev{{p: 0, e: event.Event{ID: "p0-b", Key: ka, Type: "VIEW", Value: 1, TS: base + 5*60_000}}}
	e.produce(more)
	evs = append(evs, more...)
	e.waitCommitted(DefaultGroup, 20*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		closed := 0
		for _, tot := range e.finalTotals() {
			if tot.Sub == 1 && tot.Closed {
				closed++
			}
		}
		if closed == 2 { // its 10s and 1m windows
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle partition 1 has %d closed windows, want 2", closed)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// A new worker restores partition 1's raised watermark: an event in
	// its closed window is too late, not counted anew.
	w2, stop2 := e.worker(append(opts, TransactionalID("test-txn-1"))...)
	<-w2.Ready()
	late := []tev{{p: 1, e: event.Event{ID: "p1-late", Key: kb, Type: "VIEW", Value: 1, TS: base + 2000}, late: true}}
	e.produce(late)
	evs = append(evs, late...)
	e.waitCommitted(DefaultGroup, 20*time.Second)
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	compare(t, e.finalTotals(), truth(evs, sizes))
	if n := len(e.readTopic(e.topics.Late)); n != 1 {
		t.Fatalf("late topic has %d records, want 1", n)
	}
}

// TestHotKeys: a key taking most of a partition's load is reported.
func TestHotKeys(t *testing.T) {
	s := newSpaceSaving(4)
	for i := range 1000 {
		if i%2 == 0 {
			s.observe("hot")
		} else {
			s.observe(fmt.Sprintf("cold-%d", i))
		}
	}
	hot := s.hot(3, 0.2)
	if len(hot) != 1 || hot[0].Key != "hot" || hot[0].Partition != 3 || hot[0].Share < 0.2 {
		t.Fatalf("hot keys %+v", hot)
	}
	if len(s.hot(3, 0.2)) != 0 {
		t.Fatal("sketch not reset")
	}
}

// TestAbortReplays makes the broker refuse some transactions' offset
// commits (the session then aborts them) while events flow: every aborted
// batch is undone in memory and replayed, and the totals stay exact.
func TestAbortReplays(t *testing.T) {
	e := newEnv(t, 3)
	w, stop := e.worker(CommitInterval(20*time.Millisecond), MaxPollRecords(100))
	<-w.Ready()
	h := e.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.RebalanceInProgress, Count: 5})
	defer h.Remove()
	var all []tev
	for i := range 10 {
		evs := withDups(gen(3, 200, i*200, base+int64(i)*10_000, 10_000), 5, 20)
		all = append(all, evs...)
		e.produce(evs)
		time.Sleep(30 * time.Millisecond)
	}
	e.waitCommitted(DefaultGroup, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var m dto.Metric
	w.m.aborted.Write(&m)
	if h.Hits() == 0 || m.GetCounter().GetValue() == 0 {
		t.Fatalf("no transaction aborted (fault hits %d, aborted %v)", h.Hits(), m.GetCounter().GetValue())
	}
	t.Logf("%d aborted transactions replayed", int(m.GetCounter().GetValue()))
	compare(t, e.finalTotals(), truth(all, sizes))
}

// TestAtLeastOnceDoubleCounts shows why the test-only at-least-once mode
// exists: a crash between writing the totals and committing the offsets
// replays events whose ids are no longer remembered, and totals overcount.
func TestAtLeastOnceDoubleCounts(t *testing.T) {
	e := newEnv(t, 2)
	evs := gen(2, 400, 0, base, 20_000)
	w, err := New(Conn(e.conn), Logger(testLogger()), AtLeastOnce(), Windows(sizes...), IdleTimeout(time.Hour), ClientOpts(kgoLog()...), HotKeys(testHot),
		CommitInterval(20*time.Millisecond), MaxPollRecords(50))
	if err != nil {
		t.Fatal(err)
	}
	commits := killAtCommit(t, w, 3) // totals written, offsets not committed
	_, stop := e.start(w)
	<-w.Ready()
	i := 0
	for ; i < len(evs) && commits.Load() < 3; i += 20 {
		e.produce(evs[i:min(i+20, len(evs))])
		time.Sleep(15 * time.Millisecond)
	}
	deadline := time.Now().Add(20 * time.Second)
	for commits.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); !errors.Is(err, killed) {
		t.Fatalf("worker stopped with %v, want the kill", err)
	}
	if i < len(evs) {
		e.produce(evs[i:])
	}
	_, stop2 := e.worker(AtLeastOnce())
	e.waitCommitted(DefaultGroup, 30*time.Second)
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	want, got := truth(evs, sizes), e.finalTotals()
	over := 0
	for k, w := range want {
		if got[k].Count > w.Count {
			over++
		}
	}
	if over == 0 {
		t.Fatal("at-least-once mode did not double count after the crash")
	}
	t.Logf("%d of %d totals overcount after one crash in at-least-once mode", over, len(want))
}
