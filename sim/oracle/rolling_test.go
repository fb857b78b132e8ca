package oracle

import (
	"runtime"
	"strconv"
	"testing"
	"time"
)

func ackAt(o *Oracle, id, key string, ts, sentAt int64) {
	o.Add(Sent{Event: &Event{ID: id, Key: key, Type: "VIEW", Value: 2, HasValue: true, TS: ts}, Ref: sentAt, Acked: true})
}

// TestTakeFinalAndRestore: the windows taken and those left add up to
// the unrolled truth; an event for a taken window is counted apart
// (AfterTaken) and never silently added; Restore brings a window back.
func TestTakeFinalAndRestore(t *testing.T) {
	sizes := []time.Duration{time.Minute, 5 * time.Minute}
	whole := newOracle(t, Config{Windows: sizes})
	o := newOracle(t, Config{Windows: sizes})
	t0 := ref - ref%600000 // a 10-minute boundary
	for i := range int64(1200) {
		ts := t0 + i*1000 // 20 minutes, one event a second
		for _, x := range []*Oracle{whole, o} {
			ackAt(x, "e"+itoa(i), "k"+itoa(i%7), ts, ts)
		}
	}
	taken, bounds := o.TakeFinal(time.UnixMilli(t0 + 11*60000 + 5))
	if len(bounds) != 2 || bounds[0] != (Taken{60000, t0 + 11*60000}) || bounds[1] != (Taken{300000, t0 + 600000}) {
		t.Fatalf("bounds %+v", bounds)
	}
	for _, w := range taken {
		if w.End() > t0+11*60000 {
			t.Fatalf("took an open window %+v", w)
		}
	}
	// Taken + left == whole, window by window.
	sum := map[WindowKey]Total{}
	for _, w := range append(taken, o.Windows(ByDimSet, false)...) {
		s := sum[w.WindowKey]
		s.Count += w.Count
		s.Sum += w.Sum
		sum[w.WindowKey] = s
	}
	all := whole.Windows(ByDimSet, false)
	if len(sum) != len(all) {
		t.Fatalf("%d windows, want %d", len(sum), len(all))
	}
	for _, w := range all {
		if sum[w.WindowKey] != w.Total {
			t.Fatalf("window %+v: %+v", w.WindowKey, sum[w.WindowKey])
		}
	}
	// Taking again at the same time takes nothing; the bound never moves back.
	if again, b := o.TakeFinal(time.UnixMilli(t0)); len(again) != 0 || b[0].Before != t0+11*60000 {
		t.Fatalf("second take: %d windows, bounds %+v", len(again), b)
	}
	// A late arrival for a taken 1m window (its 5m window is taken too).
	ackAt(o, "late-1", "k1", t0+30000, t0+20*60000)
	st := o.Stats()
	if st.AfterTaken != 1 || st.Distinct != 1201 {
		t.Fatalf("stats %+v", st)
	}
	for _, w := range o.Windows(ByDimSet, false) {
		if w.Size == 60000 && w.Start < t0+11*60000 {
			t.Fatalf("event added to a taken window: %+v", w)
		}
	}
	o.Restore(taken[:1])
	if got := o.Windows(ByDimSet, false); got[0] != taken[0] {
		t.Fatalf("restored %+v, want %+v", got[0], taken[0])
	}
}

// TestForgetBefore: identities are dropped a generation at a time, only
// generations sent wholly before the time; a copy of a kept identity is
// still a duplicate.
func TestForgetBefore(t *testing.T) {
	o := newOracle(t, Config{IdentityGeneration: 10 * time.Second})
	for i := range int64(60) {
		ackAt(o, "e"+itoa(i), "k", ref+i*1000, ref+i*1000) // one a second, 6 generations
	}
	if n := o.Identities(); n != 60 {
		t.Fatalf("%d identities", n)
	}
	if n := o.ForgetBefore(time.UnixMilli(ref + 25000)); n != 20 {
		t.Fatalf("forgot %d, want 20 (two whole generations; the one holding 25s stays)", n)
	}
	ackAt(o, "e25", "k", ref+25000, ref+61000) // kept: a duplicate
	ackAt(o, "e5", "k", ref+5000, ref+61000)   // forgotten: counted again (the caller vouched it would not come)
	st := o.Stats()
	if st.Duplicates != 1 || st.Distinct != 61 || st.Forgotten != 20 || st.Identities != 41 {
		t.Fatalf("stats %+v", st)
	}
	// Without generations nothing is forgotten.
	w := newOracle(t, Config{})
	ackAt(w, "e1", "k", ref, ref)
	if w.ForgetBefore(time.UnixMilli(ref+1e9)) != 0 || w.Identities() != 1 {
		t.Fatal("forgot without IdentityGeneration")
	}
}

// TestRollingBoundsMemory: fed a steady stream with takes and forgets as
// a run makes them, the truth holds a bounded number of identities and
// windows, and its heap stays flat; it logs the bytes per window and per
// identity.
func TestRollingBoundsMemory(t *testing.T) {
	const (
		perS = 2000
		keys = 500
	)
	o := newOracle(t, Config{IdentityGeneration: 10 * time.Second})
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var peakIDs, peakWin int
	var mid uint64
	seq := 0
	for s := range int64(600) { // 10 minutes of send time
		now := ref + s*1000
		for range perS {
			ackAt(o, "e"+strconv.Itoa(seq), "k"+strconv.Itoa(seq%keys), now, now)
			seq++
		}
		if s%10 == 9 {
			o.ForgetBefore(time.UnixMilli(now - 30000))
			o.TakeFinal(time.UnixMilli(now - 25000))
			st := o.Stats()
			peakIDs, peakWin = max(peakIDs, st.Identities), max(peakWin, st.Windows)
		}
		if s == 299 {
			mid = heap()
		}
	}
	end := heap()
	st := o.Stats()
	if peakIDs > 50*perS || peakWin > 3*keys {
		t.Fatalf("peak %d identities, %d windows: not bounded", peakIDs, peakWin)
	}
	if st.AfterTaken != 0 || st.Distinct != 600*perS {
		t.Fatalf("stats %+v", st)
	}
	if end > mid+mid/2 {
		t.Fatalf("heap grew from %d to %d bytes over the second half", mid, end)
	}
	// Bytes per held identity (events of one window) and per window with
	// its interned key (one event each), for the note.
	perEvent := func(distinctKeys bool) float64 {
		w := newOracle(t, Config{Windows: []time.Duration{time.Minute}})
		before := heap()
		for i := range 200000 {
			k := "k"
			if distinctKeys {
				k += strconv.Itoa(i)
			}
			ackAt(w, "x"+strconv.Itoa(i), k, ref, ref)
		}
		n := float64(heap()-before) / 200000
		runtime.KeepAlive(w)
		return n
	}
	id := perEvent(false)
	t.Logf("rolling: peak %d identities, %d windows; heap %d -> %d bytes over the second half; %.0f bytes per identity, %.0f per window (with its key)",
		peakIDs, peakWin, mid, end, id, perEvent(true)-id)
}
