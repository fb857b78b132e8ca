package aggregate

import (
	"math/rand/v2"
	"unsafe"
)

// idTable maps fingerprints to event times: the dedup set's index
// (dedup.go). It is an open-addressing table with linear probing and
// backward-shift deletion, made for what the dedup set does to it: one
// lookup per event, mostly of fingerprints it does not hold, and whole
// buckets of them deleted as the watermark passes.
//
// Go's own maps (Swiss tables) keep a deleted slot as a tombstone: under
// the dedup set's steady insert/delete churn their groups fill with
// tombstones, and a lookup of a fingerprint that is not there probes
// group after group until it finds an empty slot. In steady-50k that was
// about 1 µs per event, 7% of the whole in-process stack's CPU. Here a
// deletion moves the entries after it back into the hole instead, so no
// slot is ever a tombstone and a probe ends at the first empty slot: at
// the load kept here (at most 5/8; a table shrinks to a quarter once
// below 1/16) a miss reads about 4 slots of 24 bytes on average, one or
// two cache lines. BenchmarkDedupLookup (3M live ids under churn): 360-440
// ns an event against 1,570 with the Go map, most of it the cache miss of
// the lookup and of the expiry's delete.
//
// The slot is picked by a mix of both halves of the fingerprint with a
// random seed of the table's: the fingerprints are fixed hashes (every
// worker must compute the same), so a producer could craft ids whose
// xxHash64 halves collide; with the seed, ids collide in the table only
// where their whole 128-bit fingerprints do, and those are one identity
// to the dedup set anyway. The fingerprint (0, 0) marks an empty slot;
// that one fingerprint, should an identity ever hash to it, is held apart
// (zeroHas).
//
// A worker's partitions fill alike, so their tables double at about the
// same moment; that is kept on purpose. Spreading the doublings (each
// table at its own load, 1/2 to 3/4 or 19/32 to 21/32, picked from its
// seed) made BenchmarkPipeline 12-15% slower (1.34-1.56 -> 1.51-1.78
// CPU-µs/event, 2026-12-07): the partitions of a poll are handled side by
// side and the poll waits for the slowest, so doublings that coincide
// overlap on both cores, while spread ones each hold up a whole poll.
type idTable struct {
	slots []idSlot // len a power of two, or 0
	n     int      // entries in slots
	seed  uint64

	zeroHas bool // the fingerprint (0, 0) is held, with zeroTS
	zeroTS  int64
}

// idSlot is one slot: an empty one has h == idHash{}.
type idSlot struct {
	h  idHash
	ts int64
}

// home is h's first slot in a table of mask+1 slots.
func (t *idTable) home(h idHash, mask uint64) uint64 {
	x := (h.a ^ t.seed) * 0x9e3779b97f4a7c15
	x ^= h.b
	x ^= x >> 29
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 32
	return x & mask
}

// minIDTable is the fewest slots of a table that holds anything.
const minIDTable = 64

// len is the number of fingerprints held.
func (t *idTable) len() int {
	if t.zeroHas {
		return t.n + 1
	}
	return t.n
}

// cap is the number of slots (for the memory estimate).
func (t *idTable) cap() int { return len(t.slots) }

// get returns h's time and whether h is held.
func (t *idTable) get(h idHash) (int64, bool) {
	if h == (idHash{}) {
		return t.zeroTS, t.zeroHas
	}
	if len(t.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.home(h, mask); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.h == h {
			return s.ts, true
		}
		if s.h == (idHash{}) {
			return 0, false
		}
	}
}

// touch reads h's home slot and returns a word of it, so that a get or
// set of h soon after finds the slot in cache (record.go). It changes
// nothing.
func (t *idTable) touch(h idHash) uint64 {
	if len(t.slots) == 0 {
		return 0
	}
	return t.slots[t.home(h, uint64(len(t.slots)-1))].h.a
}

// set holds h with ts, replacing its time if h is held.
func (t *idTable) set(h idHash, ts int64) {
	if h == (idHash{}) {
		t.zeroHas, t.zeroTS = true, ts
		return
	}
	if (t.n+1)*8 > len(t.slots)*5 {
		t.resize(max(minIDTable, 2*len(t.slots)))
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.home(h, mask); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.h == h {
			s.ts = ts
			return
		}
		if s.h == (idHash{}) {
			*s = idSlot{h, ts}
			t.n++
			return
		}
	}
}

// del forgets h (nothing if h is not held).
func (t *idTable) del(h idHash) { t.delIf(h, nil) }

// delIf forgets h if it is held with a time that drop accepts (nil: any
// time), in one probe.
func (t *idTable) delIf(h idHash, drop func(ts int64) bool) {
	if h == (idHash{}) {
		if t.zeroHas && (drop == nil || drop(t.zeroTS)) {
			t.zeroHas, t.zeroTS = false, 0
		}
		return
	}
	if len(t.slots) == 0 {
		return
	}
	mask := uint64(len(t.slots) - 1)
	i := t.home(h, mask)
	for {
		s := &t.slots[i]
		if s.h == h {
			if drop != nil && !drop(s.ts) {
				return
			}
			break
		}
		if s.h == (idHash{}) {
			return
		}
		i = (i + 1) & mask
	}
	// Backward shift: move each later entry of the run back into the hole
	// when its home slot is not strictly after the hole (cyclically), so
	// every entry stays reachable from its home without tombstones.
	hole := i
	for j := (i + 1) & mask; ; j = (j + 1) & mask {
		s := t.slots[j]
		if s.h == (idHash{}) {
			break
		}
		// s may move to the hole iff its home is not in (hole, j].
		if (j-t.home(s.h, mask))&mask >= (j-hole)&mask {
			t.slots[hole] = s
			hole = j
		}
	}
	t.slots[hole] = idSlot{}
	t.n--
	if len(t.slots) > minIDTable && t.n*16 < len(t.slots) {
		t.resize(len(t.slots) / 4)
	}
}

// resize rehashes every entry into size slots (a power of two that holds
// them under the 5/8 load).
func (t *idTable) resize(size int) {
	if t.slots == nil {
		t.seed = rand.Uint64()
	}
	old := t.slots
	t.slots = make([]idSlot, size)
	bytes := uintptr(size) * unsafe.Sizeof(idSlot{})
	adviseHugePages(unsafe.Pointer(&t.slots[0]), bytes) // fewer TLB misses per probe
	populate(unsafe.Pointer(&t.slots[0]), bytes)        // one call, not two faults a page (hugepage_linux.go)
	mask := uint64(size - 1)
	for _, s := range old {
		if s.h == (idHash{}) {
			continue
		}
		i := t.home(s.h, mask)
		for t.slots[i].h != (idHash{}) {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}
