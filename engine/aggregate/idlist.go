package aggregate

// idList is one dedup bucket's expiry list (dedup.go): the fingerprints
// whose first copies' times fall in the bucket, in the order added. It is
// held in chunks of idChunk fingerprints, so a growing list never copies
// what it holds (a slice doubling from 64 to a few hundred thousand ids
// moved each id about twice and touched twice its pages), and the chunks
// of a dropped bucket go back to the set's free list (idChunks) for the
// buckets that follow, so a steady stream reuses its memory instead of
// faulting in new pages.
type idList struct {
	chunks [][]idHash // every chunk full but the last, which is not empty
	n      int
}

// idChunk is the fingerprints in one chunk: 16 KiB.
const idChunk = 1024

// idChunks is a dedup set's free chunks, at most maxFreeIDChunks (4 MiB)
// kept: a burst's chunks beyond that are left to the garbage collector.
type idChunks struct{ free [][]idHash }

const maxFreeIDChunks = 256

func (c *idChunks) get() []idHash {
	if n := len(c.free); n > 0 {
		ch := c.free[n-1]
		c.free[n-1] = nil
		c.free = c.free[:n-1]
		return ch[:0]
	}
	return make([]idHash, 0, idChunk)
}

func (c *idChunks) put(ch []idHash) {
	if len(c.free) < maxFreeIDChunks {
		c.free = append(c.free, ch[:0])
	}
}

// push appends h.
func (l *idList) push(h idHash, c *idChunks) {
	n := len(l.chunks)
	if n == 0 || len(l.chunks[n-1]) == idChunk {
		l.chunks = append(l.chunks, c.get())
		n++
	}
	l.chunks[n-1] = append(l.chunks[n-1], h)
	l.n++
}

// pop removes the newest fingerprint (rollback), if any.
func (l *idList) pop(c *idChunks) {
	n := len(l.chunks)
	if n == 0 {
		return
	}
	last := l.chunks[n-1][:len(l.chunks[n-1])-1]
	l.n--
	if len(last) > 0 {
		l.chunks[n-1] = last
		return
	}
	c.put(last)
	l.chunks[n-1] = nil
	l.chunks = l.chunks[:n-1]
}

// len is the number of fingerprints held.
func (l *idList) len() int { return l.n }

// release gives every chunk back to c; l is empty after.
func (l *idList) release(c *idChunks) {
	for i, ch := range l.chunks {
		c.put(ch)
		l.chunks[i] = nil
	}
	l.chunks, l.n = l.chunks[:0], 0
}
