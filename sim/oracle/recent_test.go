package oracle

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestRecentWindowsAgreeWithMap: with the per-key cache of recent windows
// in front of the map, counting out-of-order and late events across takes
// (TakeFinal deletes windows the caches point at) gives exactly what a
// plain model of the contract gives, window by window.
func TestRecentWindowsAgreeWithMap(t *testing.T) {
	sizes := []time.Duration{10 * time.Second, time.Minute}
	o := newOracle(t, Config{Windows: sizes})
	type wk struct {
		key, typ    string
		size, start int64
	}
	want, got := map[wk]Total{}, map[wk]Total{}
	var bounds []Taken
	rnd := rand.New(rand.NewPCG(1, 2))
	t0 := ref - ref%600_000
	types := []string{"VIEW", "CLICK", "LIKE"}
	for i := range int64(60_000) {
		now := t0 + i*10
		ts := now - rnd.Int64N(30_000) // up to 30 s out of order
		e := &Event{ID: itoa(i), Key: "k" + itoa(rnd.Int64N(25)), Type: types[rnd.IntN(3)], TS: ts}
		late := rnd.IntN(20) == 0 // counted apart, in windows of their own
		o.Add(Sent{Event: e, Ref: now, Acked: true, Late: late})
		for j, s := range sizes {
			size := s.Milliseconds()
			start := ts - ((ts%size)+size)%size
			if late || bounds != nil && start < bounds[j].Before {
				continue
			}
			k := wk{e.Key, e.Type, size, start}
			w := want[k]
			w.Count++
			w.Sum++
			want[k] = w
		}
		if i%4000 == 3999 {
			var taken []Window
			taken, bounds = o.TakeFinal(time.UnixMilli(now - 15_000)) // some events still to come for them
			for _, w := range taken {
				k := wk{w.Key, w.Type, w.Size, w.Start}
				if _, dup := got[k]; dup {
					t.Fatalf("window %+v taken twice", k)
				}
				got[k] = w.Total
			}
		}
	}
	for _, w := range o.Windows(ByDimSet, false) {
		k := wk{w.Key, w.Type, w.Size, w.Start}
		g := got[k]
		g.Count += w.Count
		g.Sum += w.Sum
		got[k] = g
	}
	if len(got) != len(want) {
		t.Fatalf("%d windows, want %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Fatalf("window %+v: %+v, want %+v", k, got[k], w)
		}
	}
	if o.Stats().AfterTaken == 0 || o.recentGen == 0 {
		t.Fatalf("the test took no window under an event (after taken %d, generation %d)", o.Stats().AfterTaken, o.recentGen)
	}
}

// TestAddAllIsAdd: a batch told through AddAll leaves the truth exactly
// as the same events told one by one through Add: windows, stats and
// mismatches (refused, duplicate, failed and late events among them).
func TestAddAllIsAdd(t *testing.T) {
	one, all := newOracle(t, Config{}), newOracle(t, Config{})
	rnd := rand.New(rand.NewPCG(3, 4))
	var batch []Sent
	for i := range int64(5000) {
		e := &Event{ID: itoa(rnd.Int64N(4000)), Key: "k" + itoa(rnd.Int64N(30)), Type: "VIEW", Value: 2, HasValue: true, TS: ref - rnd.Int64N(120_000)}
		s := Sent{Event: e, Ref: ref, Acked: rnd.IntN(10) != 0, Late: rnd.IntN(15) == 0}
		switch rnd.IntN(20) {
		case 0:
			e.Type = "NOPE" // refused by the contract, whatever the outcome
		case 1:
			s.Acked, s.Code = false, CodeKey // a wrong refusal
		}
		one.Add(s)
		batch = append(batch, s)
		if len(batch) == 1+int(i%97) {
			all.AddAll(batch)
			batch = batch[:0]
		}
	}
	all.AddAll(batch)
	if a, b := one.Stats(), all.Stats(); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("stats: Add %+v, AddAll %+v", a, b)
	}
	if a, b := one.Windows(ByDimSet, true), all.Windows(ByDimSet, true); !reflect.DeepEqual(a, b) {
		t.Fatalf("windows differ: %d by Add, %d by AddAll", len(a), len(b))
	}
	if a, b := one.Mismatches(), all.Mismatches(); !reflect.DeepEqual(a, b) || len(a) == 0 {
		t.Fatalf("mismatches: Add %v, AddAll %v", a, b)
	}
}
