package aggregate

import (
	"encoding/binary"
	"errors"
	"slices"

	"github.com/cespare/xxhash/v2"
)

// idHash is the 128-bit fingerprint of an event id: two independent 64-bit
// hashes (xxHash64 and FNV-1a 64) with fixed parameters, so every process
// computes the same fingerprint and the changelog can be read back by
// another worker. Two distinct ids collide with probability about 2^-128
// per pair.
type idHash struct{ a, b uint64 }

func hashID(id string) idHash {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime
	}
	return idHash{xxhash.Sum64String(id), h}
}

// dedupSet remembers the ids of the events counted on one partition during
// the dedup horizon, in bounded memory: ids are bucketed by the event time
// of the event (bucket width w), and a whole bucket is dropped in O(1) once
// its end is older than the partition watermark minus the horizon H.
//
// A duplicate is the same event sent again: same id and same event time, so
// it falls in the same bucket as the original and a lookup probes one
// bucket.
//
// Claim. Let H >= S + L + O, where S is the largest window size, L the
// allowed lateness and O the out-of-orderness. If an event e (time t) was
// counted on partition p, every later duplicate e' of e on p that is not
// too late is recognised as a duplicate.
//
// Proof. Let W' be p's watermark when e' is processed. e' is not too late,
// so for every window size s, with ws = WindowStart(t, s) (ws <= t), the
// rule in lateness (watermark.go) gives ws + s + L > W'; as ws <= t this
// means t > W' - s - L >= W' - S - L >= W' - H. The bucket holding e's id
// ends after t, so its end is > W' - H. Buckets are dropped only when
// their end is <= W - H for the watermark W at that moment, and the
// watermark never decreases (it is restored with the state and only ever
// raised), so W <= W' and the bucket holding e's id is still present when
// e' arrives: e' is caught. The set is recovered after a crash (restore.go)
// from the changelog written in the same transactions as the totals, with
// every bucket whose end is > W - H, so the argument holds across restarts
// and rebalances. A duplicate that IS too late never reaches the set: it
// goes to the late topic, where reconciliation dedups it. QED.
//
// The argument itself needs only H >= S + L; the required extra O keeps
// the bound the same as the one the restore read position is derived
// from (restore.go, changelogFrom), and costs O of memory.
type dedupSet struct {
	width   int64
	buckets map[int64]map[idHash]struct{}
	n       int

	lastStart  int64
	lastBucket map[idHash]struct{}

	added []dedupEntry // this batch's new ids, for the changelog and rollback
}

type dedupEntry struct {
	bucket int64
	h      idHash
}

func newDedupSet(width int64) *dedupSet {
	return &dedupSet{width: width, buckets: make(map[int64]map[idHash]struct{})}
}

func (d *dedupSet) bucketStart(ts int64) int64 {
	s := ts - ts%d.width
	if ts < 0 && ts%d.width != 0 {
		s -= d.width
	}
	return s
}

func (d *dedupSet) bucket(start int64, create bool) map[idHash]struct{} {
	if d.lastBucket != nil && d.lastStart == start {
		return d.lastBucket
	}
	b := d.buckets[start]
	if b == nil {
		if !create {
			return nil
		}
		// Size a new bucket like the newest one, so a steady stream
		// does not pay for map growth in every bucket.
		hint := 64
		if d.lastBucket != nil {
			hint = max(hint, len(d.lastBucket))
		}
		b = make(map[idHash]struct{}, hint)
		d.buckets[start] = b
	}
	d.lastStart, d.lastBucket = start, b
	return b
}

// insert adds h for an event at ts and reports whether it was new.
func (d *dedupSet) insert(h idHash, ts int64) bool {
	start := d.bucketStart(ts)
	b := d.bucket(start, true)
	if _, ok := b[h]; ok {
		return false
	}
	b[h] = struct{}{}
	d.n++
	d.added = append(d.added, dedupEntry{start, h})
	return true
}

// restore adds an id read back from the changelog (no batch bookkeeping).
func (d *dedupSet) restore(bucket int64, h idHash) {
	b := d.bucket(bucket, true)
	if _, ok := b[h]; !ok {
		b[h] = struct{}{}
		d.n++
	}
}

// rollback forgets this batch's ids.
func (d *dedupSet) rollback() {
	for _, e := range d.added {
		if b := d.buckets[e.bucket]; b != nil {
			if _, ok := b[e.h]; ok {
				delete(b, e.h)
				d.n--
			}
		}
	}
	d.added = d.added[:0]
}

// committed clears the batch bookkeeping after a commit.
func (d *dedupSet) committed() { d.added = d.added[:0] }

// expire drops every bucket whose end is <= wm - horizon.
func (d *dedupSet) expire(wm, horizon int64) {
	if wm == minWatermark {
		return
	}
	limit := wm - horizon
	for start, b := range d.buckets {
		if start+d.width <= limit {
			d.n -= len(b)
			delete(d.buckets, start)
			if d.lastBucket != nil && d.lastStart == start {
				d.lastBucket = nil
			}
		}
	}
}

// bytes estimates the memory the set holds: a swiss-table slot per id
// (16-byte key plus control byte at 7/8 load) and the per-bucket maps.
func (d *dedupSet) bytes() int64 { return int64(d.n)*20 + int64(len(d.buckets))*256 }

// Changelog record value (one per partition per commit that changed it):
//
//	version byte (1)
//	watermark varint, max event time varint
//	groups uvarint, then per group: bucket start varint, count uvarint,
//	count x 16 bytes (a, b big-endian)
const changelogVersion = 1

func appendChangelog(dst []byte, wm, maxTS int64, added []dedupEntry) []byte {
	slices.SortFunc(added, func(x, y dedupEntry) int {
		switch {
		case x.bucket < y.bucket:
			return -1
		case x.bucket > y.bucket:
			return 1
		}
		return 0
	})
	groups := 0
	for i := range added {
		if i == 0 || added[i].bucket != added[i-1].bucket {
			groups++
		}
	}
	dst = append(dst, changelogVersion)
	dst = binary.AppendVarint(dst, wm)
	dst = binary.AppendVarint(dst, maxTS)
	dst = binary.AppendUvarint(dst, uint64(groups))
	for i := 0; i < len(added); {
		j := i
		for j < len(added) && added[j].bucket == added[i].bucket {
			j++
		}
		dst = binary.AppendVarint(dst, added[i].bucket)
		dst = binary.AppendUvarint(dst, uint64(j-i))
		for _, e := range added[i:j] {
			dst = binary.BigEndian.AppendUint64(dst, e.h.a)
			dst = binary.BigEndian.AppendUint64(dst, e.h.b)
		}
		i = j
	}
	return dst
}

var errChangelog = errors.New("aggregate: malformed dedup changelog record")

// readChangelog decodes a changelog value, calling fn for every id.
func readChangelog(b []byte, fn func(bucket int64, h idHash)) (wm, maxTS int64, err error) {
	if len(b) == 0 || b[0] != changelogVersion {
		return 0, 0, errChangelog
	}
	b = b[1:]
	next := func() int64 {
		v, n := binary.Varint(b)
		if n <= 0 {
			err = errChangelog
			return 0
		}
		b = b[n:]
		return v
	}
	nextU := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			err = errChangelog
			return 0
		}
		b = b[n:]
		return v
	}
	wm, maxTS = next(), next()
	groups := nextU()
	for g := uint64(0); g < groups && err == nil; g++ {
		bucket := next()
		cnt := nextU()
		if err != nil || uint64(len(b)) < cnt*16 {
			return 0, 0, errChangelog
		}
		for i := uint64(0); i < cnt; i++ {
			fn(bucket, idHash{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])})
			b = b[16:]
		}
	}
	return wm, maxTS, err
}
