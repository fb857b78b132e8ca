package aggregate

import (
	"testing"
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/total"
)

// TestTotalsWrittenOnlyWhenChanged counts the records the engine writes
// to the aggregates topic: a window's total only at the commits whose
// batch touched it, and once more, Closed, when it closes; a window no
// event touched since the last commit is not written again (nor after a
// restart: the restore installs its newest total, and the Closed total
// written later is that total). The final totals are exact.
func TestTotalsWrittenOnlyWhenChanged(t *testing.T) {
	e := newEnv(t, 1)
	opts := []Opt{CommitInterval(20 * time.Millisecond)}
	ev := func(id, key string, ts int64) tev {
		return tev{p: 0, e: event.Event{ID: id, Key: key, Type: "VIEW", Value: 1, TS: ts}}
	}
	step := func(evs ...tev) []tev {
		e.produce(evs)
		e.waitCommitted(DefaultGroup, 20*time.Second)
		return evs
	}
	count := func() map[string]int { // records per key and window size; closed ones as "key/size/closed"
		out := map[string]int{}
		for _, r := range e.readTopic(e.topics.Aggregates) {
			tot, err := total.Unmarshal(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			k := tot.Key + "/" + total.SizeName(tot.Size)
			if tot.Closed {
				k += "/closed"
			}
			out[k]++
		}
		return out
	}
	w, stop := e.worker(opts...)
	<-w.Ready()
	var all []tev
	all = append(all, step(ev("a1", "a", base+1000), ev("b1", "b", base+1000))...)
	all = append(all, step(ev("b2", "b", base+2000))...) // a untouched
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := count()
	for _, size := range sizes {
		s := total.SizeName(size.Milliseconds())
		if got["a/"+s] != 1 || got["b/"+s] != 2 || got["a/"+s+"/closed"]+got["b/"+s+"/closed"] != 0 {
			t.Fatalf("records per window before the restart: %v; want a 1 and b 2 per size, none closed", got)
		}
	}

	// A restarted worker restores both windows; only b is touched, then
	// an event far ahead closes every window.
	w2, stop2 := e.worker(append(opts, TransactionalID("test-txn-1"))...)
	<-w2.Ready()
	all = append(all, step(ev("b3", "b", base+3000))...)
	all = append(all, step(ev("c1", "c", base+5*60_000))...)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got = count()
		closed := 0
		for _, size := range sizes {
			s := total.SizeName(size.Milliseconds())
			closed += got["a/"+s+"/closed"] + got["b/"+s+"/closed"]
		}
		if closed == 2*len(sizes) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every window of a and b closed: %v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	got = count()
	for _, size := range sizes {
		s := total.SizeName(size.Milliseconds())
		if got["a/"+s] != 1 || got["a/"+s+"/closed"] != 1 || got["b/"+s] != 3 || got["b/"+s+"/closed"] != 1 {
			t.Fatalf("records per window: %v; want a 1 + 1 closed and b 3 + 1 closed per size", got)
		}
	}
	compare(t, e.finalTotals(), truth(all, sizes))
}
