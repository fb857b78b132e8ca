package aggregate

import "testing"

// TestIDList: pushes across chunk boundaries come back in order, pops
// undo the newest first (freeing emptied chunks), and a released list's
// chunks are reused by the next list.
func TestIDList(t *testing.T) {
	var c idChunks
	var l idList
	const n = 3*idChunk + 7
	for i := range n {
		l.push(idHash{uint64(i), 1}, &c)
	}
	check := func(want int) {
		t.Helper()
		if l.len() != want {
			t.Fatalf("len %d, want %d", l.len(), want)
		}
		i := 0
		for ci, ch := range l.chunks {
			if len(ch) == 0 || (ci < len(l.chunks)-1 && len(ch) != idChunk) {
				t.Fatalf("chunk %d holds %d", ci, len(ch))
			}
			for _, h := range ch {
				if h != (idHash{uint64(i), 1}) {
					t.Fatalf("id %d is %v", i, h)
				}
				i++
			}
		}
		if i != want {
			t.Fatalf("walked %d ids, want %d", i, want)
		}
	}
	check(n)
	for range 8 { // back across a chunk boundary
		l.pop(&c)
	}
	check(n - 8)
	if len(l.chunks) != 3 || len(c.free) != 1 {
		t.Fatalf("%d chunks, %d free; want 3 and 1", len(l.chunks), len(c.free))
	}
	l.release(&c)
	check(0)
	if len(c.free) != 4 {
		t.Fatalf("%d free chunks after release, want 4", len(c.free))
	}
	var m idList
	for i := range 2 * idChunk {
		m.push(idHash{uint64(i), 1}, &c)
	}
	if len(c.free) != 2 {
		t.Fatalf("%d free chunks after reuse, want 2", len(c.free))
	}
	l.pop(&c) // an empty list: nothing
	if l.len() != 0 {
		t.Fatal("pop of an empty list")
	}
	for range maxFreeIDChunks + 10 {
		c.put(make([]idHash, 0, idChunk))
	}
	if len(c.free) != maxFreeIDChunks {
		t.Fatalf("free list holds %d, want at most %d", len(c.free), maxFreeIDChunks)
	}
}
