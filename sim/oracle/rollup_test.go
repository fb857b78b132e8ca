package oracle

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestGranularitiesNest: the truth's per-granularity totals (10s, 1m and
// 5m windows, as the retention scenarios count) nest exactly: every
// coarser window's count and sum is the sum of the finer windows in it,
// with duplicates, disorder and events that are too late for their
// windows in the mix (an event counts in all of its windows or in none).
func TestGranularitiesNest(t *testing.T) {
	sizes := []time.Duration{10 * time.Second, time.Minute, 5 * time.Minute}
	o := newOracle(t, Config{Windows: sizes, Lateness: 2 * time.Second, OutOfOrderness: time.Second})
	r := rand.New(rand.NewPCG(3, 4))
	base := ref - ref%300_000
	for i := range 20000 {
		now := base + int64(i)*60
		ts := now - r.Int64N(4000)
		late := i%97 == 0
		if late {
			ts = now - 30_000 // too late for its windows
		}
		id := fmt.Sprint("e", i)
		if i%13 == 0 && i > 0 {
			id = fmt.Sprint("e", i-1) // a duplicate
		}
		e := Event{ID: id, Key: fmt.Sprint("k", r.IntN(5)), Type: "VIEW", Value: float64(r.IntN(9)), HasValue: true, TS: ts}
		o.Add(Sent{Event: &e, Ref: now, Acked: true, Late: late})
	}
	type k struct {
		size, start int64
		key         string
	}
	got := map[k]Total{}
	for _, w := range o.Windows(ByKey, false) {
		got[k{w.Size, w.Start, w.Key}] = w.Total
	}
	if len(got) == 0 || o.Stats().Late == 0 {
		t.Fatalf("%d windows, %d late: want both", len(got), o.Stats().Late)
	}
	for i := 1; i < len(sizes); i++ {
		fine, coarse := sizes[i-1].Milliseconds(), sizes[i].Milliseconds()
		sum := map[k]Total{}
		for w, tot := range got {
			if w.size == fine {
				c := k{coarse, w.start - w.start%coarse, w.key}
				s := sum[c]
				s.Count += tot.Count
				s.Sum += tot.Sum
				sum[c] = s
			}
		}
		for w, tot := range got {
			if w.size == coarse && sum[w] != tot {
				t.Fatalf("%v window %d of %s: %+v, its %v windows sum to %+v", sizes[i], w.start, w.key, tot, sizes[i-1], sum[w])
			}
		}
		for w, s := range sum {
			if got[w] != s {
				t.Fatalf("%v windows of %d %s sum to %+v, the %v window is %+v", sizes[i-1], w.start, w.key, s, sizes[i], got[w])
			}
		}
	}
}
