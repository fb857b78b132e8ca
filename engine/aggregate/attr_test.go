package aggregate

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/enrich"
	"github.com/countlab/countlab/engine/event"
)

// storeEnricher is an Enricher over a real store filled by the test.
type storeEnricher struct{ st *enrich.Store }

func (s storeEnricher) CatchUp(context.Context) error { return nil }
func (s storeEnricher) Spans(entity string, from, to int64, names []string) ([]enrich.Span, error) {
	return s.st.Spans(entity, from, to, names)
}
func (s storeEnricher) Closed(int64) {}

// TestAttrPerEventJoin is the hand-computed example of docs/enrichment.md
// (sim/oracle's TestAttrWindowsPerEvent computes the same, independently):
// windows of 10 s; v1 is in channel a, moves to b at 15 s (in the middle
// of its second window, whose first event was counted before a restart:
// its sub-totals come back from the changelog); v2's version takes effect
// after its event; v3 has none; v4 is deleted at 5 s.
//
//	[0, 10s):  a: v1@1s (2) + v4@4s (1)            = 2 events, sum 3
//	           (unknown): v2@2s (5), v3@3s (7), v4@6s (2) = 3, sum 14
//	[10s, 20s): a: v1@12s (3)                      = 1, sum 3
//	           b: v1@15s (10) + v1@16s (4)         = 2, sum 14
func TestAttrPerEventJoin(t *testing.T) {
	e := newEnv(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := enrich.EnsureTopics(ctx, e.cl, enrich.DefaultTopic, enrich.DefaultTotalsTopic, 1, 1); err != nil {
		t.Fatal(err)
	}
	st, _, err := enrich.OpenStore(filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ch := func(v string) []enrich.Attr { return []enrich.Attr{{Name: "channel", Value: v}} }
	if err := st.Apply([]enrich.Record{
		{Entity: "v1", TS: base - 1, Attrs: ch("a")}, {Entity: "v1", TS: base + 15000, Attrs: ch("b")},
		{Entity: "v2", TS: base + 9999, Attrs: ch("a")},
		{Entity: "v4", TS: base - 1, Attrs: ch("a")}, {Entity: "v4", TS: base + 5000}, // a deletion
	}, map[int32]int64{0: 5}); err != nil {
		t.Fatal(err)
	}
	ev := func(id, key string, ts int64, v float64) tev {
		return tev{e: event.Event{ID: id, Key: key, Type: "VIEW", Value: v, TS: base + ts}}
	}
	run := func(evs []tev) {
		_, stop := e.worker(Windows(10*time.Second), AllowedLateness(5*time.Second), OutOfOrderness(time.Second),
			CommitInterval(20*time.Millisecond), Enrich(storeEnricher{st}, enrich.DefaultTotalsTopic, "channel"))
		e.produce(evs)
		e.waitCommitted(DefaultGroup, 30*time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	run([]tev{ev("1", "v1", 1000, 2), ev("2", "v2", 2000, 5), ev("3", "v3", 3000, 7), ev("4", "v4", 4000, 1), ev("5", "v1", 12000, 3)})
	// A new worker restores the open windows (and their sub-totals).
	run([]tev{ev("6", "v4", 6000, 2), ev("7", "v1", 15000, 10), ev("8", "v1", 16000, 4), ev("9", "tick", 40000, 1)})

	got := map[[2]any]enrich.AttrTotal{}
	for _, r := range e.readTopic(enrich.DefaultTotalsTopic) {
		at, err := enrich.UnmarshalAttrTotal(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		got[[2]any{at.Start - base, at.Value}] = at
	}
	want := []struct {
		start      int64
		value      string
		count      int64
		sum        float64
		keys       int
		minV, maxV float64
	}{
		{0, "a", 2, 3, 2, 1, 2}, {0, enrich.Unknown, 3, 14, 3, 2, 7},
		{10000, "a", 1, 3, 1, 3, 3}, {10000, "b", 2, 14, 1, 4, 10},
	}
	if len(got) != len(want) {
		t.Errorf("got %d attribute totals, want %d: %+v", len(got), len(want), got)
	}
	for _, w := range want {
		g, ok := got[[2]any{w.start, w.value}]
		if !ok || g.Count != w.count || g.Sum != w.sum || g.Keys != w.keys || g.Min != w.minV || g.Max != w.maxV {
			t.Errorf("window +%dms %s: got %+v (found %v), want count %d sum %v keys %d min %v max %v", w.start, w.value, g, ok, w.count, w.sum, w.keys, w.minV, w.maxV)
		}
	}
}

func TestSubTotalsSealCommitEncode(t *testing.T) {
	var st subTotals
	for _, e := range []struct {
		ts int64
		v  float64
	}{{5, 1}, {5, 2}, {3, 4}, {5, 8}, {9, 16}} {
		st.add(e.ts, e.v)
	}
	st.seal()
	want := []sub{{3, 1, 4, 4, 4}, {5, 3, 11, 1, 8}, {9, 1, 16, 16, 16}}
	if len(st.pend) != len(want) {
		t.Fatalf("sealed %+v", st.pend)
	}
	for i := range want {
		if st.pend[i] != want[i] {
			t.Fatalf("sealed %+v, want %+v", st.pend, want)
		}
	}
	p := newPartition(0, 1000, time.Now())
	p.enrich = true
	s := &series{typ: "VIEW", key: "k", dims: "a=b"}
	w := &window{k: winKey{s, 10, 0}, subs: &st}
	p.dirty = append(p.dirty, w)
	b := p.appendSubs(nil)
	var n int
	if err := readSubs(b, func(k subKey, subs []sub) {
		n++
		if k != (subKey{"VIEW\x00k\x00a=b", 10, 0}) || len(subs) != 3 || subs[1] != want[1] || subs[2] != want[2] {
			t.Fatalf("decoded %+v %+v", k, subs)
		}
	}); err != nil || n != 1 {
		t.Fatalf("readSubs: %v, %d windows", err, n)
	}
	st.commit()
	st.add(5, 32)
	st.seal()
	st.commit()
	if len(st.done) != 3 || st.done[1] != (sub{5, 4, 43, 1, 32}) || len(st.pend) != 0 {
		t.Fatalf("committed %+v", st.done)
	}
}

func TestFoldSubs(t *testing.T) {
	s := func(ms, n int64) sub { return sub{ms: ms, count: n, sum: float64(n), lo: 1, hi: 1} }
	for _, c := range []struct {
		done, delta, want []sub
	}{
		{nil, []sub{s(1, 1)}, []sub{s(1, 1)}},
		{[]sub{s(1, 1)}, []sub{s(2, 1)}, []sub{s(1, 1), s(2, 1)}},                            // appended
		{[]sub{s(1, 1), s(2, 1)}, []sub{s(2, 2), s(3, 1)}, []sub{s(1, 1), s(2, 3), s(3, 1)}}, // last merged
		{[]sub{s(1, 1), s(5, 1)}, []sub{s(0, 1), s(5, 1), s(7, 1)}, []sub{s(0, 1), s(1, 1), s(5, 2), s(7, 1)}},
	} {
		got := foldSubs(append([]sub(nil), c.done...), c.delta)
		if len(got) != len(c.want) {
			t.Fatalf("fold %v %v = %v", c.done, c.delta, got)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("fold %v %v = %v, want %v", c.done, c.delta, got, c.want)
			}
		}
	}
}
