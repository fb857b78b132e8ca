package aggregate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
	ooo := event.Event{ID: "ooo-1", Key: "k0", Type: "VIEW", Value: 2, TS: p0max - 12_000}
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
	// are too late there (including a duplicate of a counted event).
	jump := tev{p: 1, e: event.Event{ID: "jump", Key: "k1", Type: "VIEW", Value: 1, TS: base + 10*60_000}}
	var onP1 tev
	for _, ev := range evs {
		if ev.p == 1 && ev.raw == nil {
			onP1 = ev
			break
		}
	}
	dupLate := onP1
	dupLate.late = true
	late := []tev{
		{p: 1, e: event.Event{ID: "late-1", Key: "k1", Type: "VIEW", Value: 1, TS: base + 30_000}, late: true},
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
	lateRecs := e.readTopic(e.topics.Late)
	if len(lateRecs) != 2 {
		t.Fatalf("late topic has %d records, want 2", len(lateRecs))
	}
	dl := e.readTopic(e.topics.DeadLetter)
	if len(dl) != 3 {
		t.Fatalf("dead-letter topic has %d records, want 3", len(dl))
	}
	for _, r := range dl {
		if kafka.Header(r, kafka.HeaderSource) != "engine" || kafka.Header(r, kafka.HeaderReason) == "" || kafka.Header(r, kafka.HeaderOrigin) == "" {
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
			Windows(sizes...), IdleTimeout(time.Hour), CommitInterval(20*time.Millisecond), MaxPollRecords(100))
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
		for i := 0; i < len(evs); i += 60 {
			e.produce(evs[i:min(i+60, len(evs))])
			time.Sleep(15 * time.Millisecond)
		}
		if round < 3 {
			deadline := time.Now().Add(30 * time.Second)
			for commits.Load() < 4 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if err := stop(); !errors.Is(err, killed) {
				t.Fatalf("round %d: worker stopped with %v, want the kill", round, err)
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
