package aggregate

import "github.com/twmb/franz-go/pkg/kgo"

// outBatch allocates the records a commit produces in slabs: records from
// a slice, keys and values from a byte arena, so a commit of thousands of
// totals costs a few allocations. kgo keeps the records until they are
// acknowledged; a slab is never reused, only dropped when full.
type outBatch struct {
	recs   []kgo.Record
	arena  []byte
	totals int // window totals produced
}

const (
	slabRecords = 1024
	arenaBytes  = 256 << 10
)

func (o *outBatch) record() *kgo.Record {
	if len(o.recs) == cap(o.recs) {
		o.recs = make([]kgo.Record, 0, slabRecords)
	}
	o.recs = o.recs[:len(o.recs)+1]
	return &o.recs[len(o.recs)-1]
}

// reserve makes room for about n more bytes in the arena, so what is then
// appended to o.arena directly stays in one slab (past n it still works:
// append moves the arena, the sub-slices taken before keep the old one).
func (o *outBatch) reserve(n int) {
	if cap(o.arena)-len(o.arena) < n {
		o.arena = make([]byte, 0, max(arenaBytes, n))
	}
}

// since returns the arena's bytes from start on (a stable sub-slice).
func (o *outBatch) since(start int) []byte {
	return o.arena[start:len(o.arena):len(o.arena)]
}
