package aggregate

import (
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The worker's client takes the records it decodes, and the buffers it
// decompresses batches into, from a fetchPool (kgo.WithPools), and the
// worker gives a batch's records back once nothing refers to them any
// more: after the transaction that produced the batch's dead letters,
// late and moved records (which share the polled Key, Value and Headers)
// ended without error. Without it every poll's records and decompressed
// batches were new memory, and a heap that grows is new pages: on this
// machine a first touch costs about 3-4 ms a MB, and in BenchmarkPipeline
// (1M events) the kgo.Record slabs and decompression buffers were 220 of
// the 470 MB the pipeline phase newly touched, with system time 37% of
// its CPU.
//
// Nothing the worker keeps past a record's batch aliases the record: it
// decodes with event.DecodeShared, whose strings are the record's bytes,
// but the windows and hot-key sketch hold only the series' own copy of
// its name (seriesFor), and the dedup set only fingerprints.

// poolClasses bounds the size classes (powers of two) of pooled slices.
const poolClasses = 32

// fetchPool pools kgo.Record slabs and decompression buffers by capacity
// class: a slice in class c has a capacity of at least 1<<c. It
// implements kgo.PoolRecords and kgo.PoolDecompressBytes, and is safe for
// concurrent use (sync.Pool).
type fetchPool struct {
	recs  [poolClasses]sync.Pool // *[]kgo.Record
	bytes [poolClasses]sync.Pool // *[]byte

	reused atomic.Int64 // slabs and buffers handed out again (tests)
}

// ceilClass is the class whose every slice holds n: the least c with
// 1<<c >= n.
func ceilClass(n int) int { return bits.Len(uint(max(n, 1) - 1)) }

// floorClass is the class a slice of capacity n (> 0) goes back to: the
// greatest c with 1<<c <= n.
func floorClass(n int) int { return bits.Len(uint(n)) - 1 }

// GetRecords returns a slice with a capacity of at least n.
func (p *fetchPool) GetRecords(n int) []kgo.Record {
	c := ceilClass(n)
	if c >= poolClasses {
		return make([]kgo.Record, 0, n)
	}
	if v, ok := p.recs[c].Get().(*[]kgo.Record); ok {
		p.reused.Add(1)
		return (*v)[:0]
	}
	return make([]kgo.Record, 0, 1<<c)
}

// PutRecords takes back a slab whose records were all recycled (zeroed).
func (p *fetchPool) PutRecords(s []kgo.Record) {
	if cap(s) == 0 {
		return
	}
	if c := floorClass(cap(s)); c < poolClasses {
		p.recs[c].Put(&s)
	}
}

// decompressGuess is the decompressed size guessed per compressed byte
// (snappy and lz4 on event batches: 2-4); a buffer up to 16 times the
// guess is taken rather than a new one, and one too small is grown by the
// client and comes back in its larger class.
const decompressGuess = 3

// GetDecompressBytes returns a buffer to decompress compressed into.
func (p *fetchPool) GetDecompressBytes(compressed []byte, _ kgo.CompressionCodecType) []byte {
	c := ceilClass(len(compressed) * decompressGuess)
	for k := c; k < min(c+5, poolClasses); k++ {
		if v, ok := p.bytes[k].Get().(*[]byte); ok {
			p.reused.Add(1)
			return (*v)[:0]
		}
	}
	if c >= poolClasses {
		return nil // the client allocates
	}
	return make([]byte, 0, 1<<c)
}

// PutDecompressBytes takes back a buffer (zeroed by the client).
func (p *fetchPool) PutDecompressBytes(b []byte) {
	if cap(b) == 0 {
		return
	}
	if c := floorClass(cap(b)); c < poolClasses {
		p.bytes[c].Put(&b)
	}
}

// hold keeps a poll's records until their batch's transaction ends.
func (w *Worker) hold(fs kgo.Fetches) {
	if !fs.Empty() {
		w.held = append(w.held, fs)
	}
}

// recycle gives the held records back to the pool. Call it only when no
// record the client still buffers refers to them: after a flush, or a
// transaction's End, that returned no error.
func (w *Worker) recycle() {
	for _, fs := range w.held {
		fs.EachRecord(func(r *kgo.Record) { r.Recycle() })
	}
	clear(w.held)
	w.held = w.held[:0]
}

// dropHeld forgets the held records without recycling them (the garbage
// collector takes them): where records may still be in flight.
func (w *Worker) dropHeld() {
	clear(w.held)
	w.held = w.held[:0]
}
