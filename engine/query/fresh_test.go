package query

import (
	"testing"

	"github.com/countlab/countlab/engine/total"
)

// TestFreshness checks the rules of fresh.go on their own: a window read
// is pending until the sink's offset passes it on every partition it was
// read on; an answer begun over a pending window is not cached; reading a
// window before the end of a range begun invalidates every cached answer.
func TestFreshness(t *testing.T) {
	id := tableID{60_000, "VIEW"}
	tot := func(start int64) total.Total { return total.Total{Key: "k", Type: "VIEW", Size: 60_000, Start: start} }
	f := newFreshness()
	gen, ok := f.begin(id, 0, 600_000)
	if !ok {
		t.Fatal("nothing read: not cacheable")
	}
	f.read([]total.Total{tot(60_000), tot(60_000), tot(120_000)}, []recPos{{0, 5}, {1, 3}, {0, 6}})
	if f.valid(gen) {
		t.Fatal("a window of a cached range was read: still valid")
	}
	if f.pending.Load() != 2 {
		t.Fatalf("pending %d, want 2", f.pending.Load())
	}
	if _, ok := f.begin(id, 0, 120_000); ok {
		t.Fatal("begun over a pending window")
	}
	if _, ok := f.begin(tableID{60_000, "CLICK"}, 0, 600_000); !ok {
		t.Fatal("another type is not pending")
	}
	if _, ok := f.begin(id, 180_000, 600_000); !ok {
		t.Fatal("a range of no pending window")
	}
	f.settle(map[int32]int64{0: 6}) // offset 5 written, 6 not
	if _, ok := f.begin(id, 60_000, 120_000); ok {
		t.Fatal("window 60000 is still pending on partition 1")
	}
	f.settle(map[int32]int64{0: 7, 1: 4})
	gen, ok = f.begin(id, 0, 600_000)
	if !ok || f.pending.Load() != 0 {
		t.Fatalf("all written: begin %v, pending %d", ok, f.pending.Load())
	}
	f.read([]total.Total{tot(60_000)}, []recPos{{0, 6}}) // read after the sink passed it
	if f.valid(gen) {
		// the sink may have written it after the cached answer was read
		t.Fatal("a total the sink already wrote left the cache valid")
	}
	if f.pending.Load() != 0 {
		t.Fatal("a total the sink already wrote is pending")
	}
	gen, _ = f.begin(id, 0, 600_000)
	f.read([]total.Total{tot(600_000)}, []recPos{{0, 9}}) // after every range begun
	if !f.valid(gen) {
		t.Fatal("a window after every cached range invalidated the cache")
	}
}
