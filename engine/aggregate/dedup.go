package aggregate

import (
	"encoding/binary"
	"errors"
	"slices"

	"github.com/cespare/xxhash/v2"
)

// idHash is the 128-bit fingerprint of an event's identity (key, id): two
// independent 64-bit hashes (xxHash64 and FNV-1a 64) of key + "\x00" + id
// with fixed parameters, so every process computes the same fingerprint
// and the changelog can be read back by another worker. Two distinct
// identities collide with probability about 2^-128 per pair.
type idHash struct{ a, b uint64 }

// appendIdentity appends the bytes hashID hashes: key, a NUL, id (a key
// never holds a NUL: the validator refuses control characters in keys).
func appendIdentity(dst []byte, key, id string) []byte {
	dst = append(dst, key...)
	dst = append(dst, 0)
	return append(dst, id...)
}

// hashID fingerprints an identity built by appendIdentity.
func hashID(ident []byte) idHash {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for _, c := range ident {
		h ^= uint64(c)
		h *= prime
	}
	return idHash{xxhash.Sum64(ident), h}
}

// dedupSet remembers the identities (key, id) of the first copies seen on
// one partition (counted on time, or sent to the late topic) with their
// event times, in bounded memory and O(1) per event: one map holds every
// remembered fingerprint with its first copy's event time, and each
// fingerprint is also on the expiry list of the bucket of that time
// (bucket width w).
//
// A repeat of (key, id) is a duplicate whatever its own ts, type, value or
// dims (docs/ingest-contract.md): the lookup is by fingerprint only, so a
// repeat with another event time, in another bucket, is caught too. The
// contract's rule is exact: a first copy with event time t is forgotten
// once t <= W - H, W the partition watermark before the repeat and H the
// dedup horizon; seen applies it to the stored t, so how long a bucket is
// kept does not change a verdict. A first copy that is already beyond the
// horizon (a too-late event with t <= W - H) is not remembered: it would
// be forgotten at once. A whole bucket is dropped, its fingerprints
// deleted from the map, once its end is <= W - H: every time in it is
// forgotten by then.
//
// Claim. If the first copy e of (key, id), with event time t, was seen on
// partition p (counted, or sent to the late topic) when p's watermark was
// W, with t > W - H, then every later event e' on p with the same (key,
// id), processed when p's watermark is W' with t > W' - H, is recognised
// as a duplicate: it is neither counted nor sent to the late topic. (This
// is the contract's "recognised while the first copy's event time is
// within the dedup horizon behind the partition watermark", for on-time
// and too-late first copies alike: the first copy in the log wins.) An
// on-time e always has t > W - H: a window [ws, ws+s) of e is open at W
// only if ws + s + L > W (the lateness rule, watermark.go), and ws <= t,
// so t > W - s - L >= W - S - L >= W - H, where S is the largest window
// size and L the allowed lateness.
//
// Proof. When e was seen, t > W - H, so its fingerprint was put in the map
// with t and on the list of the bucket [b, b+w) holding t, so b + w > t. A
// fingerprint leaves the map only when its bucket is dropped, at a commit
// whose watermark W” has b + w <= W” - H, or when the batch that added it
// is rolled back (then e's count or late record is rolled back too and e
// is replayed). Its time is replaced only by a later first copy after it
// was forgotten (t <= W - H at that copy). The watermark never decreases
// (it is restored with the state and only ever raised), so W” <= W' and
// b + w > t > W' - H >= W” - H: e's bucket is still present when e'
// arrives, with t, and seen says duplicate. The set is recovered after a
// crash (restore.go) from the changelog written in the same transactions
// as the totals and late records, with every bucket whose end is > W - H
// (each fingerprint with its first copy's time), so the argument holds
// across restarts and rebalances. QED.
//
// validate requires H >= S + L + O (O: the out-of-orderness): the claim
// needs only H >= S + L; the extra O keeps the bound the same as the one
// the restore read position is derived from (restore.go, changelogFrom).
type dedupSet struct {
	width   int64
	ids     idTable           // fingerprint -> the first copy's event time (idtable.go)
	buckets map[int64]*idList // bucket start -> the fingerprints expiring with it
	chunks  idChunks          // the buckets' free list chunks (idlist.go)

	lastStart int64
	last      *idList

	added  []dedupEntry // this batch's new ids, in order, for the changelog and rollback
	logged int          // how many of added are in changelog records of the open batch
}

// dedupEntry is one id added in the current batch: its bucket and event
// time, and the time it replaced (had: there was one, forgotten) for
// rollback.
type dedupEntry struct {
	bucket int64
	h      idHash
	ts     int64
	prev   int64
	had    bool
}

func newDedupSet(width int64) *dedupSet {
	return &dedupSet{width: width, buckets: make(map[int64]*idList)}
}

func (d *dedupSet) bucketStart(ts int64) int64 {
	s := ts - ts%d.width
	if ts < 0 && ts%d.width != 0 {
		s -= d.width
	}
	return s
}

// list is the expiry list of the bucket starting at start, created if new.
func (d *dedupSet) list(start int64) *idList {
	if d.last != nil && d.lastStart == start {
		return d.last
	}
	l := d.buckets[start]
	if l == nil {
		l = &idList{}
		d.buckets[start] = l
	}
	d.lastStart, d.last = start, l
	return l
}

// forgotten reports whether a first copy at ts is beyond the horizon
// behind the watermark wm (never without a watermark).
func forgotten(ts, wm, horizon int64) bool {
	return wm != minWatermark && ts <= wm-horizon
}

// seen reports whether h is remembered with a first copy that is not
// forgotten at the watermark wm: a repeat of h is then a duplicate.
func (d *dedupSet) seen(h idHash, wm, horizon int64) bool {
	ts, ok := d.ids.get(h)
	return ok && !forgotten(ts, wm, horizon)
}

// insert remembers h as a first copy at ts (the caller checked that h is
// not seen); a forgotten earlier time of h is replaced.
func (d *dedupSet) insert(h idHash, ts int64) {
	prev, had := d.ids.get(h)
	d.add(h, ts, prev, had)
}

// firstCopy is seen and insert with one map lookup: it reports whether h
// is a duplicate at the watermark wm and, when it is not, remembers h at ts
// unless ts is already beyond the horizon.
func (d *dedupSet) firstCopy(h idHash, ts, wm, horizon int64) (dup bool) {
	prev, had := d.ids.get(h)
	if had && !forgotten(prev, wm, horizon) {
		return true
	}
	if !forgotten(ts, wm, horizon) {
		d.add(h, ts, prev, had)
	}
	return false
}

// add remembers h at ts; prev and had are what the map held for h.
func (d *dedupSet) add(h idHash, ts, prev int64, had bool) {
	d.ids.set(h, ts)
	start := d.bucketStart(ts)
	d.list(start).push(h, &d.chunks)
	d.added = append(d.added, dedupEntry{bucket: start, h: h, ts: ts, prev: prev, had: had})
}

// restore adds a fingerprint read back from the changelog (no batch
// bookkeeping), in log order. A fingerprint is in the changelog again only
// when a later first copy replaced a forgotten one, with a later time: the
// latest time is kept.
func (d *dedupSet) restore(h idHash, ts int64) {
	if cur, ok := d.ids.get(h); ok && cur >= ts {
		return
	}
	d.ids.set(h, ts)
	d.list(d.bucketStart(ts)).push(h, &d.chunks)
}

// rollback forgets this batch's ids (restoring a time they replaced).
// They are the tails of their buckets' lists (appended in this order
// since the last commit, and nothing expires between commits), so they
// are popped newest first.
func (d *dedupSet) rollback() {
	for i := len(d.added) - 1; i >= 0; i-- {
		e := d.added[i]
		if e.had {
			d.ids.set(e.h, e.prev)
		} else {
			d.ids.del(e.h)
		}
		if l := d.buckets[e.bucket]; l != nil {
			l.pop(&d.chunks)
		}
	}
	d.added, d.logged = d.added[:0], 0
}

// committed clears the batch bookkeeping after a commit.
func (d *dedupSet) committed() { d.added, d.logged = d.added[:0], 0 }

// unlogged is the batch's ids not yet in a changelog record.
func (d *dedupSet) unlogged() []dedupEntry { return d.added[d.logged:] }

// expire drops every bucket whose end is <= wm - horizon, with its ids
// (unless an id's time was replaced by one in another bucket).
func (d *dedupSet) expire(wm, horizon int64) {
	if wm == minWatermark {
		return
	}
	limit := wm - horizon
	for start, l := range d.buckets {
		if start+d.width <= limit {
			inBucket := func(ts int64) bool { return d.bucketStart(ts) == start }
			for _, ch := range l.chunks {
				for _, h := range ch {
					d.ids.delIf(h, inBucket)
				}
			}
			l.release(&d.chunks)
			delete(d.buckets, start)
			if d.last == l {
				d.last = nil
			}
		}
	}
}

// len is the number of remembered identities.
func (d *dedupSet) len() int { return d.ids.len() }

// bytes estimates the memory the set holds: the table's 24-byte slots,
// per id its 16-byte expiry list entry, plus the per-bucket lists.
func (d *dedupSet) bytes() int64 {
	return int64(d.ids.cap())*24 + int64(d.ids.len())*16 + int64(len(d.buckets))*64
}

// Changelog record value (one per partition per commit that changed it):
//
//	version byte (3; version 2 had no event times, version 1 hashed the
//	id alone)
//	watermark varint, largest min(ts, ref) varint, largest ts - ref varint
//	(watermark.go)
//	groups uvarint, then per group: bucket start varint, count uvarint,
//	count x (16 bytes (a, b big-endian), event time - bucket start uvarint)
const changelogVersion = 3

// changelogV2 is the version before event times: an id read from it is
// taken at the end of its bucket (remembered as long as the bucket was).
const changelogV2 = 2

// sortAdded sorts a batch's ids by bucket, in place (mostly in order
// already, as event time follows the log: then it is a scan), so that
// appendChangelog writes each bucket once. The order of added does not
// matter otherwise: an id is added at most once per batch, so rollback may
// undo them in any order.
func sortAdded(added []dedupEntry) {
	byBucket := func(x, y dedupEntry) int {
		switch {
		case x.bucket < y.bucket:
			return -1
		case x.bucket > y.bucket:
			return 1
		}
		return 0
	}
	if !slices.IsSortedFunc(added, byBucket) {
		slices.SortFunc(added, byBucket)
	}
}

// changelogSize counts added's buckets (sorted by bucket) and bounds the
// bytes of their changelog value: at most a header, and per id 16 bytes
// and a 10-byte uvarint, per group two 10-byte varints.
func changelogSize(added []dedupEntry) (groups, n int) {
	for i := range added {
		if i == 0 || added[i].bucket != added[i-1].bucket {
			groups++
		}
	}
	return groups, 1 + 4*binary.MaxVarintLen64 + groups*2*binary.MaxVarintLen64 + len(added)*(16+binary.MaxVarintLen64)
}

// appendChangelog appends the changelog value of w and added (sorted by
// bucket: sortAdded; unsorted, a bucket is written as several groups,
// which reads back the same).
func appendChangelog(dst []byte, w watermark, added []dedupEntry) []byte {
	groups, n := changelogSize(added)
	return appendChangelogGroups(slices.Grow(dst, n), w, added, groups)
}

// appendChangelogGroups is appendChangelog for a caller that counted
// added's groups and made room already (changelogSize).
func appendChangelogGroups(dst []byte, w watermark, added []dedupEntry, groups int) []byte {
	dst = append(dst, changelogVersion)
	dst = binary.AppendVarint(dst, w.wm)
	dst = binary.AppendVarint(dst, w.maxTS)
	dst = binary.AppendVarint(dst, w.ahead)
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
			dst = binary.AppendUvarint(dst, uint64(e.ts-e.bucket))
		}
		i = j
	}
	return dst
}

var (
	errChangelog   = errors.New("aggregate: malformed dedup changelog record")
	errChangelogV1 = errors.New("aggregate: dedup changelog record of an older engine (version 1: event ids without their key, " +
		"and a watermark not bounded by the record time); its dedup state cannot be carried over: " +
		"start on a fresh broker data directory, or with a new consumer group and changelog topic (--topic-prefix)")
)

// readChangelog decodes a changelog value, calling fn for every id with
// its bucket and its first copy's event time (of a version 2 record,
// whose ids have none, the bucket's last millisecond: width is the
// reader's bucket width); w has the record's wm, maxTS and ahead.
func readChangelog(b []byte, width int64, fn func(h idHash, ts int64)) (w watermark, err error) {
	w, _, err = readChangelogRest(b, width, fn)
	return w, err
}

// readChangelogRest is readChangelog, also returning what follows the ids
// (the sub-totals of an enriched run, subtotal.go).
func readChangelogRest(b []byte, width int64, fn func(h idHash, ts int64)) (w watermark, rest []byte, err error) {
	if len(b) > 0 && b[0] == 1 {
		return w, nil, errChangelogV1
	}
	if len(b) == 0 || b[0] != changelogVersion && b[0] != changelogV2 {
		return w, nil, errChangelog
	}
	withTS := b[0] == changelogVersion
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
	w.wm, w.maxTS, w.ahead = next(), next(), next()
	groups := nextU()
	for g := uint64(0); g < groups && err == nil; g++ {
		bucket := next()
		cnt := nextU()
		if err != nil || uint64(len(b)) < cnt*16 {
			return watermark{}, nil, errChangelog
		}
		for i := uint64(0); i < cnt && err == nil; i++ {
			if uint64(len(b)) < 16 {
				return watermark{}, nil, errChangelog
			}
			h := idHash{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}
			b = b[16:]
			ts := bucket + width - 1
			if withTS {
				ts = bucket + int64(nextU())
			}
			fn(h, ts)
		}
	}
	return w, b, err
}
