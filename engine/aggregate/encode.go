package aggregate

import "github.com/twmb/franz-go/pkg/kgo"

// outBatch allocates the records a commit produces in slabs: records from
// a slice, keys and values from a byte arena, so a commit of thousands of
// totals costs a few allocations. kgo keeps the records until they are
// acknowledged; a slab is never reused, only dropped when full.
type outBatch struct {
	recs  []kgo.Record
	arena []byte
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

// bytes returns b appended to the arena (a stable sub-slice).
func (o *outBatch) bytes(b []byte) []byte {
	if cap(o.arena)-len(o.arena) < len(b) {
		o.arena = make([]byte, 0, max(arenaBytes, len(b)))
	}
	s := len(o.arena)
	o.arena = append(o.arena, b...)
	return o.arena[s:len(o.arena):len(o.arena)]
}
