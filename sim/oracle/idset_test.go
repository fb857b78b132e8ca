package oracle

import (
	"strconv"
	"testing"
)

// TestIDSetHint: a set made for n identities holds them without a
// doubling, and answers as a set grown from empty does.
func TestIDSetHint(t *testing.T) {
	const n = 100_000
	sized, grown := newIDSet(n), newIDSet(0)
	slots := slotCount(sized)
	if slots*idSetLoad < n*8 {
		t.Fatalf("%d slots for a hint of %d", slots, n)
	}
	for i := range 2 * n {
		id := identity("k", strconv.Itoa(i%n+i/(n+1)))
		if a, b := sized.add(id), grown.add(id); a != b {
			t.Fatalf("identity %d: add %v on the sized set, %v on the grown one", i, a, b)
		}
		if i == n-1 && slotCount(sized) != slots {
			t.Fatalf("the sized set doubled before it held its hint (%d -> %d slots)", slots, slotCount(sized))
		}
	}
	if sized.len() != grown.len() {
		t.Fatalf("%d identities in the sized set, %d in the grown one", sized.len(), grown.len())
	}
	if s := newIDSet(0); slotCount(s) != 0 || len(s.parts) != 1 {
		t.Fatalf("no hint: %d slots in %d parts made before the first add", slotCount(s), len(s.parts))
	}
}

// TestIDSetDoublingsSpread: the parts of a set fill alike (uniform
// fingerprints), so they must not double at one load: the doublings of a
// sized set's parts come one at a time over at least a tenth more
// identities, and the set still answers as a set grown from empty.
func TestIDSetDoublingsSpread(t *testing.T) {
	const hint = 1 << 20
	s, grown := newIDSet(hint), newIDSet(0)
	if len(s.parts) < 8 {
		t.Fatalf("%d parts for a hint of %d", len(s.parts), hint)
	}
	size := make([]int, len(s.parts))
	for i := range s.parts {
		size[i] = len(s.parts[i].slots)
	}
	var at []int // identities held when each doubling happened
	for i := 0; len(at) < len(s.parts); i++ {
		if i > 4*hint {
			t.Fatalf("%d of %d parts doubled after %d identities", len(at), len(s.parts), i)
		}
		id := identity("k", strconv.Itoa(i))
		if a, b := s.add(id), grown.add(id); a != b || !a {
			t.Fatalf("identity %d: add %v on the sized set, %v on the grown one", i, a, b)
		}
		p := s.part(id)
		if n := len(s.parts[p].slots); n != size[p] {
			if n != 2*size[p] {
				t.Fatalf("part %d: %d -> %d slots", p, size[p], n)
			}
			size[p] = n
			at = append(at, i+1)
		}
	}
	if at[0] < hint {
		t.Fatalf("a part doubled at %d identities, before the hint (%d)", at[0], hint)
	}
	if last := at[len(at)-1]; (last-at[0])*10 < at[0] {
		t.Fatalf("all %d parts doubled between %d and %d identities: not spread", len(at), at[0], last)
	}
	if s.len() != grown.len() {
		t.Fatalf("%d identities in the sized set, %d in the grown one", s.len(), grown.len())
	}
}

// slotCount is the slots of all of s's tables.
func slotCount(s *idSet) int {
	n := 0
	for _, t := range s.parts {
		n += len(t.slots)
	}
	return n
}
