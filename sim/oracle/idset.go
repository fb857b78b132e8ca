package oracle

import "math/bits"

// idSet is a set of identities: open-addressing tables with linear
// probing, written for the oracle's one hot question (is this identity
// new? add it) at one cache line per question. A fingerprint is already a
// uniform hash of (key, id), so it picks its own table and slot; the zero
// fingerprint marks a free slot and is held apart. Nothing is ever
// removed (a generation is dropped whole), so there are no tombstones.
//
// A set made for many identities is split into up to idSetMaxParts
// tables by the fingerprint's top bits, each a few MiB: the oracle puts
// the identities of a partition in together (deferred.go), so that its
// lookups stay within a few pages instead of each being a TLB and cache
// miss in a table of hundreds of MiB.
//
// It is the oracle's own, not the engine's dedup index (engine/dedup):
// the truth shares no code with what it checks.
type idSet struct {
	parts []idTable // len a power of two (newIDSet: 1 without a large hint)
	shift uint      // an identity's part is id[1] >> shift (64: one part)
	zero  bool      // the zero fingerprint is held
}

// idTable is one part of an idSet.
type idTable struct {
	slots []fingerprint // len a power of two, or nil
	n     int           // identities in slots
	load  int           // the load (out of 64) at which it doubles: idSetLoad*8 and up (newIDSet)
}

// idSetMinSlots is a table's first size; idSetLoad the load (out of 8) a
// set is sized for and at which its first part doubles; idSetPartIDs the
// identities a part is made for, up to idSetMaxParts parts.
const (
	idSetMinSlots = 1 << 10
	idSetLoad     = 6
	idSetPartIDs  = 1 << 16
	idSetMaxParts = 128
)

// idSetLoadSpread is how far (out of 64) above idSetLoad*8 the last part
// of a set doubles. The fingerprints are uniform, so the parts of a set
// fill alike: doubling at one load, they all doubled within a few thousand
// identities of one another, each a rehash of a few MiB, and under the
// truth's lock that was one stall of hundreds of ms (the stress ramp's
// acknowledged rate fell to 67-222k events/s for a moment, 46 s in, at 12.6M
// identities). Spread from 6/8 to 7/8, part i doubling at 48+8i/parts, the
// doublings of a set are spread over a sixth more identities (seconds at
// any rate), one part at a time; a set sized from a hint still holds the
// hint before any part doubles.
const idSetLoadSpread = 8

// newIDSet is an empty set whose tables hold about hint identities before
// they double (0: one table, made at the first add).
func newIDSet(hint int) *idSet {
	parts := 1
	for parts < idSetMaxParts && parts*idSetPartIDs < hint {
		parts *= 2
	}
	s := &idSet{parts: make([]idTable, parts), shift: 64 - uint(bits.TrailingZeros(uint(parts)))}
	for i := range s.parts {
		s.parts[i].load = idSetLoad*8 + idSetLoadSpread*i/parts
	}
	if hint > 0 {
		n := idSetMinSlots
		for n*idSetLoad*parts < hint*8 {
			n *= 2
		}
		slab := makeSlots(n * parts) // one allocation, on huge pages
		for i := range s.parts {
			s.parts[i].slots = slab[i*n : (i+1)*n : (i+1)*n]
		}
	}
	return s
}

// part is the index of id's table.
func (s *idSet) part(id fingerprint) int { return int(id[1] >> s.shift) }

func (s *idSet) len() int {
	n := 0
	for i := range s.parts {
		n += s.parts[i].n
	}
	if s.zero {
		n++
	}
	return n
}

// slot is id's first slot in a table of mask+1 slots: the top bits of a
// multiplicative hash of both halves (fingerprints of short inputs agree
// in some low bits).
func slot(id fingerprint, mask uint64) uint64 {
	h := (id[0] ^ bits.RotateLeft64(id[1], 32)) * 0x9e3779b97f4a7c15
	return (h >> 32) & mask
}

func (s *idSet) has(id fingerprint) bool {
	if id == (fingerprint{}) {
		return s.zero
	}
	t := &s.parts[s.part(id)]
	if t.n == 0 {
		return false
	}
	_, ok := t.probe(id)
	return ok
}

// add adds id and says whether it was new.
func (s *idSet) add(id fingerprint) bool {
	if id == (fingerprint{}) {
		was := s.zero
		s.zero = true
		return !was
	}
	return s.parts[s.part(id)].add(id)
}

// add adds id (not zero) and says whether it was new.
func (t *idTable) add(id fingerprint) bool {
	if (t.n+1)*64 > len(t.slots)*t.load {
		t.grow()
	}
	i, ok := t.probe(id)
	if ok {
		return false
	}
	t.slots[i] = id
	t.n++
	return true
}

// probe finds id (not zero) in a table with a free slot: its slot and
// true, or the free slot where it belongs and false.
func (t *idTable) probe(id fingerprint) (uint64, bool) {
	mask := uint64(len(t.slots) - 1)
	for i := slot(id, mask); ; i = (i + 1) & mask {
		switch t.slots[i] {
		case id:
			return i, true
		case fingerprint{}:
			return i, false
		}
	}
}

// touch reads id's first slot and returns a word of it, so that a probe
// of id soon after finds the slot in cache (deferred.go). It changes
// nothing.
func (t *idTable) touch(id fingerprint) uint64 {
	if len(t.slots) == 0 {
		return 0
	}
	return t.slots[slot(id, uint64(len(t.slots)-1))][0]
}

// grow doubles the table (or makes the first one).
func (t *idTable) grow() {
	old := t.slots
	t.slots = makeSlots(max(idSetMinSlots, 2*len(old)))
	for _, id := range old {
		if id != (fingerprint{}) {
			i, _ := t.probe(id)
			t.slots[i] = id
		}
	}
}

// makeSlots is a zeroed table of n slots, on huge pages where the system
// gives them (useHugePages).
func makeSlots(n int) []fingerprint {
	s := make([]fingerprint, n)
	useHugePages(s)
	return s
}

// each calls fn for every identity, in no particular order.
func (s *idSet) each(fn func(fingerprint)) {
	if s.zero {
		fn(fingerprint{})
	}
	for i := range s.parts {
		for _, id := range s.parts[i].slots {
			if id != (fingerprint{}) {
				fn(id)
			}
		}
	}
}
