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

// slotCount is the slots of all of s's tables.
func slotCount(s *idSet) int {
	n := 0
	for _, t := range s.parts {
		n += len(t.slots)
	}
	return n
}
