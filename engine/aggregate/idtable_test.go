package aggregate

import (
	"math/rand/v2"
	"testing"
)

// TestIDTableMatchesMap drives the table and a Go map with the same random
// sets, deletes and lookups, over few distinct fingerprints (long probe
// runs, wrap-around at the table's end, deletes inside runs) and over
// many (growth and shrinking), and requires the same answers throughout.
func TestIDTableMatchesMap(t *testing.T) {
	for _, tc := range []struct {
		name     string
		distinct int
		ops      int
	}{{"dense", 100, 200_000}, {"wide", 50_000, 400_000}} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(tc.distinct)))
			var tb idTable
			ref := map[idHash]int64{}
			fp := func() idHash {
				i := uint64(rng.IntN(tc.distinct))
				if i == 0 {
					return idHash{} // the empty-slot fingerprint, held apart
				}
				return idHash{i >> 3, i} // halves that collide in a
			}
			for n := range tc.ops {
				h := fp()
				switch op := rng.IntN(10); {
				case op < 4:
					ts := int64(n)
					tb.set(h, ts)
					ref[h] = ts
				case op < 8:
					tb.del(h)
					delete(ref, h)
				default:
					got, ok := tb.get(h)
					want, wok := ref[h]
					if ok != wok || got != want {
						t.Fatalf("op %d: get %v = %d, %v; want %d, %v", n, h, got, ok, want, wok)
					}
				}
				if tb.len() != len(ref) {
					t.Fatalf("op %d: len %d, want %d", n, tb.len(), len(ref))
				}
				if n%50_000 == 0 || n == tc.ops-1 {
					for h, want := range ref {
						if got, ok := tb.get(h); !ok || got != want {
							t.Fatalf("op %d: %v = %d, %v; want %d", n, h, got, ok, want)
						}
					}
				}
			}
			// Emptied, it shrinks back.
			for h := range ref {
				tb.del(h)
			}
			if tb.len() != 0 || tb.cap() > 4*minIDTable {
				t.Fatalf("emptied: %d held, %d slots", tb.len(), tb.cap())
			}
		})
	}
}

// BenchmarkDedupLookup is one firstCopy per op on a set held at a steady
// size under churn (the engine's per-event dedup work).
func BenchmarkDedupLookup(b *testing.B) {
	const width, horizon, perMS = 1000, 60_000, 50 // ~3M live ids
	d := newDedupSet(width)
	rng := rand.New(rand.NewPCG(1, 2))
	ts := int64(0)
	fill := func(n int) {
		for range n {
			h := idHash{rng.Uint64(), rng.Uint64()}
			d.firstCopy(h, ts/perMS, ts/perMS, horizon)
			ts++
			if ts%10_000 == 0 {
				d.committed()
				d.expire(ts/perMS, horizon)
			}
		}
	}
	fill(2 * horizon * perMS)
	b.ResetTimer()
	fill(b.N)
}
