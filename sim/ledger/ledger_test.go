package ledger

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/event"
)

func ev(id, key, typ string, v float64, ts int64, dims ...event.Dim) *event.Event {
	return &event.Event{ID: id, Key: key, Type: typ, Value: v, TS: ts, Dims: dims}
}

func TestLedger(t *testing.T) {
	l := New(10*time.Second, time.Minute)
	us := event.Dim{Name: "country", Value: "US"}
	de := event.Dim{Name: "country", Value: "DE"}
	base := int64(1_700_000_040_000) // a minute boundary
	f := func(seq uint64, e *event.Event, late, wantNew bool) {
		t.Helper()
		if got := l.Add(seq, e, late); got != wantNew {
			t.Fatalf("Add(%d) = %v, want %v", seq, got, wantNew)
		}
	}
	f(1, ev("1", "a", "VIEW", 5, base+1000, us), false, true)
	f(2, ev("2", "a", "VIEW", 7, base+2000, de), false, true)
	f(1, ev("1", "a", "VIEW", 5, base+1000, us), false, false) // duplicate
	f(3, ev("3", "a", "VIEW", 1, base+15000, us), false, true) // next 10s window
	f(4, ev("4", "b", "CLICK", 1, base+1000), false, true)
	f(5, ev("5", "a", "VIEW", 100, base-1), true, true) // late: previous windows
	st := l.Stats()
	if st.Events != 4 || st.Late != 1 || st.Duplicates != 1 {
		t.Fatalf("stats %+v", st)
	}
	type want struct {
		size  time.Duration
		key   string
		dims  string
		start int64
		count int64
		sum   float64
		min   float64
		max   float64
	}
	check := func(ws []Window, wants []want) {
		t.Helper()
		if len(ws) != len(wants) {
			t.Fatalf("%d windows, want %d: %+v", len(ws), len(wants), ws)
		}
		for i, w := range wants {
			g := ws[i]
			if g.Size != w.size || g.Key != w.key || g.DimSet != w.dims || g.Start.UnixMilli() != w.start || g.Count != w.count || g.Sum != w.sum || g.Min != w.min || g.Max != w.max {
				t.Errorf("window %d: got %+v, want %+v", i, g, w)
			}
		}
	}
	check(l.Totals(ByKey, false), []want{
		{10 * time.Second, "b", "", base, 1, 1, 1, 1}, // CLICK before VIEW
		{10 * time.Second, "a", "", base, 2, 12, 5, 7},
		{10 * time.Second, "a", "", base + 10000, 1, 1, 1, 1},
		{time.Minute, "b", "", base, 1, 1, 1, 1},
		{time.Minute, "a", "", base, 3, 13, 1, 7},
	})
	// Sorted by size, start, type, key: CLICK b before VIEW a.
	ws := l.Totals(ByDimSet, false)
	if len(ws) != 7 || ws[0].Type != "CLICK" || ws[1].DimSet != "country=DE" || ws[2].DimSet != "country=US" {
		t.Fatalf("by dimset: %+v", ws)
	}
	withLate := l.Totals(ByKey, true)
	if len(withLate) != 7 || withLate[0].Start.UnixMilli() != base-10000 || withLate[0].Sum != 100 {
		t.Fatalf("with late: %+v", withLate)
	}
	from, to := l.Range()
	if from.UnixMilli() != base-60000 || to.UnixMilli() != base+60000 {
		t.Fatalf("range %v %v", from, to)
	}

	path := filepath.Join(t.TempDir(), "ledger.gob")
	if err := l.Save(path); err != nil {
		t.Fatal(err)
	}
	l2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Stats() != l.Stats() {
		t.Fatalf("loaded stats %+v, want %+v", l2.Stats(), l.Stats())
	}
	a, b := l.Totals(ByDimSet, true), l2.Totals(ByDimSet, true)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("loaded window %d: %+v, want %+v", i, b[i], a[i])
		}
	}
	if len(l2.Sizes()) != 2 || l2.Sizes()[1] != time.Minute {
		t.Fatalf("loaded sizes %v", l2.Sizes())
	}
}

func TestLedgerNegativeTime(t *testing.T) {
	l := New(10 * time.Second)
	l.Add(1, ev("1", "a", "VIEW", 1, -1), false)
	if w := l.Totals(ByKey, false); w[0].Start.UnixMilli() != -10000 {
		t.Fatalf("window of ts -1 starts at %d, want -10000", w[0].Start.UnixMilli())
	}
}

func BenchmarkAdd(b *testing.B) {
	l := New(10*time.Second, time.Minute)
	e := ev("x", "k", "VIEW", 1, 1_700_000_000_000, event.Dim{Name: "country", Value: "US"})
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = "key-" + string(rune('a'+i%26)) + time.Duration(i).String()
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e.Key = keys[i&(1<<16-1)]
		e.TS += 3
		l.Add(uint64(i), e, false)
	}
}
