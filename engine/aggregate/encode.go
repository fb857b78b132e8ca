package aggregate

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
)

// outBatch allocates the records a commit produces in slabs: records from
// a slice, keys and values from a byte arena, so a commit of thousands of
// totals costs a few allocations. kgo keeps the records until they are
// acknowledged, so the slabs of a commit are reused only by the next
// commit, after this one's transaction ended without error (reset); a
// failed end drops them (forget). A reset keeps the slabs the commit
// used and drops any it did not, so what is kept follows the last
// commit's size. Reusing them spares new memory at every commit: a new
// page costs about 3-4 ms a MB to touch on this machine (fetchpool.go),
// and the totals of a commit at 500k events/s are megabytes.
type outBatch struct {
	recs   []kgo.Record // the slab being filled (the last of used)
	arena  []byte       // the arena being filled (the last of usedArenas)
	totals int          // window totals produced

	used, spare             [][]kgo.Record
	usedArenas, spareArenas [][]byte
}

const (
	slabRecords = 1024
	arenaBytes  = 256 << 10
)

// record returns a zeroed record of the batch.
func (o *outBatch) record() *kgo.Record {
	if len(o.recs) == cap(o.recs) {
		if n := len(o.spare); n > 0 {
			o.recs, o.spare = o.spare[n-1][:0], o.spare[:n-1]
		} else {
			o.recs = make([]kgo.Record, 0, slabRecords)
		}
		o.used = append(o.used, o.recs)
	}
	o.recs = o.recs[:len(o.recs)+1]
	r := &o.recs[len(o.recs)-1]
	*r = kgo.Record{} // a reused slot: kgo fills in what is zero (the timestamp)
	return r
}

// reserve makes room for about n more bytes in the arena, so what is then
// appended to o.arena directly stays in one slab (past n it still works:
// append moves the arena, the sub-slices taken before keep the old one).
func (o *outBatch) reserve(n int) {
	if cap(o.arena)-len(o.arena) >= n {
		return
	}
	o.arena = nil
	for k := len(o.spareArenas) - 1; k >= 0; k-- { // the last fits but for a large n
		if cap(o.spareArenas[k]) >= n {
			o.arena = o.spareArenas[k][:0]
			o.spareArenas = slices.Delete(o.spareArenas, k, k+1)
			break
		}
	}
	if o.arena == nil {
		o.arena = make([]byte, 0, max(arenaBytes, n))
	}
	o.usedArenas = append(o.usedArenas, o.arena)
}

// since returns the arena's bytes from start on (a stable sub-slice).
func (o *outBatch) since(start int) []byte {
	return o.arena[start:len(o.arena):len(o.arena)]
}

// reset readies the batch for the next commit, reusing this one's slabs:
// call it only when the client holds none of its records any more.
func (o *outBatch) reset() {
	clear(o.spare)
	o.spare = append(o.spare[:0], o.used...)
	clear(o.used)
	o.used = o.used[:0]
	clear(o.spareArenas)
	o.spareArenas = append(o.spareArenas[:0], o.usedArenas...)
	clear(o.usedArenas)
	o.usedArenas = o.usedArenas[:0]
	o.recs, o.arena, o.totals = nil, nil, 0
}

// forget drops the batch's slabs (the client may still hold records).
func (o *outBatch) forget() { *o = outBatch{} }
