package oracle

import "math/bits"

// idSet is a set of identities: an open-addressing table with linear
// probing, written for the oracle's one hot question (is this identity
// new? add it) at one cache line per question. A fingerprint is already a
// uniform hash of (key, id), so it picks its own slot; the zero
// fingerprint marks a free slot and is held apart. Nothing is ever
// removed (a generation is dropped whole), so there are no tombstones.
//
// It is the oracle's own, not the engine's dedup index (engine/dedup):
// the truth shares no code with what it checks.
type idSet struct {
	slots []fingerprint // len a power of two, or nil
	n     int           // identities in slots
	zero  bool          // the zero fingerprint is held
}

// idSetMinSlots is the first table's size; idSetLoad the load (out of 8)
// at which it doubles.
const (
	idSetMinSlots = 1 << 10
	idSetLoad     = 6
)

// newIDSet is an empty set whose first table holds about hint identities
// before it doubles (0: the table is made at the first add).
func newIDSet(hint int) *idSet {
	s := &idSet{}
	if hint > 0 {
		n := idSetMinSlots
		for n*idSetLoad < hint*8 {
			n *= 2
		}
		s.slots = makeSlots(n)
	}
	return s
}

func (s *idSet) len() int {
	if s.zero {
		return s.n + 1
	}
	return s.n
}

// slot is id's first slot in a table of mask+1 slots: the top bits of a
// multiplicative hash of both halves (fingerprints of short inputs agree
// in some low bits).
func (s *idSet) slot(id fingerprint, mask uint64) uint64 {
	h := (id[0] ^ bits.RotateLeft64(id[1], 32)) * 0x9e3779b97f4a7c15
	return (h >> 32) & mask
}

func (s *idSet) has(id fingerprint) bool {
	if id == (fingerprint{}) {
		return s.zero
	}
	if s.n == 0 {
		return false
	}
	_, ok := s.probe(id)
	return ok
}

// add adds id and says whether it was new.
func (s *idSet) add(id fingerprint) bool {
	if id == (fingerprint{}) {
		was := s.zero
		s.zero = true
		return !was
	}
	if (s.n+1)*8 > len(s.slots)*idSetLoad {
		s.grow()
	}
	i, ok := s.probe(id)
	if ok {
		return false
	}
	s.slots[i] = id
	s.n++
	return true
}

// probe finds id (not zero) in a table with a free slot: its slot and
// true, or the free slot where it belongs and false.
func (s *idSet) probe(id fingerprint) (uint64, bool) {
	mask := uint64(len(s.slots) - 1)
	for i := s.slot(id, mask); ; i = (i + 1) & mask {
		switch s.slots[i] {
		case id:
			return i, true
		case fingerprint{}:
			return i, false
		}
	}
}

// grow doubles the table (or makes the first one).
func (s *idSet) grow() {
	old := s.slots
	s.slots = makeSlots(max(idSetMinSlots, 2*len(old)))
	for _, id := range old {
		if id != (fingerprint{}) {
			i, _ := s.probe(id)
			s.slots[i] = id
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
	for _, id := range s.slots {
		if id != (fingerprint{}) {
			fn(id)
		}
	}
}
