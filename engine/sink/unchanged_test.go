package sink_test

import (
	"testing"
	"time"

	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/engine/total"
)

// TestSinkSkipsUnchangedClosedTotals counts the points written: a window's
// Closed total equal to its last written total is not written again
// (countlab_sink_points_unchanged_total), a Closed total that changed is,
// and a total after it (a reconcile's repair) is written too; a sink
// started afresh remembers nothing and writes everything. InfluxDB ends
// exactly at the last committed version of every window.
func TestSinkSkipsUnchangedClosedTotals(t *testing.T) {
	_, ic := sharedInflux(t)
	addrs := newKafka(t)
	ctx := ctxT(t, 90*time.Second)
	p := newTxnProducer(t, addrs, "agg-unchanged")
	s := startSink(t, addrs, ic, sink.Linger(0))
	const n = 30
	open := windowsAt(n, 1)
	if err := p.txn(ctx, open, true); err != nil {
		t.Fatal(err)
	}
	waitEqual(t, ic, truthOf(open...), 60*time.Second)
	waitStat := func(what string, ok func(sink.Stats) bool) sink.Stats {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			st := s.Stats()
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: stats %+v", what, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitStat("first versions written", func(st sink.Stats) bool { return st.Written == n })

	// Every window closes: the first half untouched since (the same
	// point), the second half with one more event.
	var closed []total.Total
	for i, w := range open {
		w.Closed = true
		if i >= n/2 {
			w.Count++
			w.Sum += 2
		}
		closed = append(closed, w)
	}
	if err := p.txn(ctx, closed, true); err != nil {
		t.Fatal(err)
	}
	st := waitStat("closed totals consumed", func(st sink.Stats) bool { return st.Consumed == 2*n && st.Written+st.Unchanged == 2*n })
	if st.Unchanged != n/2 || st.Written != n+n/2 {
		t.Fatalf("after the Closed totals: %d written, %d unchanged; want %d and %d", st.Written, st.Unchanged, n+n/2, n/2)
	}
	if got := metric(t, s.reg, "countlab_sink_points_unchanged_total", ""); got != n/2 {
		t.Fatalf("countlab_sink_points_unchanged_total %v, want %d", got, n/2)
	}
	waitEqual(t, ic, truthOf(closed...), 60*time.Second)

	// A repair after the Closed total, equal to the first version: a
	// Closed total forgot its window, so it is written.
	repair := closed[0]
	if err := p.txn(ctx, []total.Total{repair}, true); err != nil {
		t.Fatal(err)
	}
	waitStat("repair written", func(st sink.Stats) bool { return st.Written == n+n/2+1 })
	s.stop(t)

	// A new sink over the same topic (a new group) writes every window's
	// newest total: it has written nothing yet.
	s2 := startSink(t, addrs, ic, sink.Linger(0), sink.Group("sink-again"))
	deadline := time.Now().Add(60 * time.Second)
	for s2.Stats().Written+s2.Stats().Unchanged < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if st := s2.Stats(); st.Unchanged != 0 || st.Written < n {
		t.Fatalf("a fresh sink: %+v, want every window written, none unchanged", st)
	}
	s2.stop(t)
	if d := diff(stored(t, ic), truthOf(closed...)); d != "" {
		t.Fatalf("InfluxDB is not the last committed versions:\n%s", d)
	}
}
