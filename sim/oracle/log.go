package oracle

import (
	"hash/fnv"
	"strconv"
	"strings"
)

// MovedHeader is the header of a record the engine moved to its canonical
// partition: "PARTITION/OFFSET" of the original.
const MovedHeader = "countlab-moved-from"

type recordPos struct {
	partition int32
	offset    int64
}

type pendingRecord struct {
	ev  Event
	ref int64
}

// partition is one partition's watermark and dedup state in log mode.
type partition struct {
	maxMin  int64 // max over counted records of min(ts, ref)
	any     bool
	seen    map[fingerprint]int64    // identity -> first copy's ts
	ever    map[fingerprint]struct{} // every identity seen (never forgotten)
	swept   int                      // len(seen) after the last sweep
	counted int64
}

const noWatermark = -1 << 63

func (p *partition) watermark(ooo int64) int64 {
	if !p.any {
		return noWatermark
	}
	return p.maxMin - ooo
}

// AddRecord adds one committed record of the events topic (log mode, for
// `countlab check --from-log`): per partition, in log order, the oracle
// validates it (ref = the record's timestamp), dedups by (key, id) within
// the dedup horizon, and simulates the watermark max(min(ts, ref)) -
// out-of-orderness; a too-late event is counted apart (a reconcile counts
// it). The first copy of an identity in the partition's log is the one
// counted, on time or too late: a later copy is a duplicate either way
// (were it counted on time, a reconcile that counts the late first copy
// would count the event twice). With Config.Partitions set, a record outside its canonical
// partition is an original the engine moves: it is skipped when its copy
// (a record with the MovedHeader naming it) is seen, and the copy is
// counted in its own partition.
func (o *Oracle) AddRecord(r Record) Verdict {
	v := o.ExpectRecord(r.Value, r.Timestamp)
	o.lock()
	defer o.mu.Unlock()
	if v.Code != "" {
		o.stats.Refused[v.Code]++
		return v
	}
	pos := recordPos{r.Partition, r.Offset}
	for _, h := range r.Headers {
		if h.Key != MovedHeader {
			continue
		}
		if from, ok := parsePos(string(h.Value)); ok {
			if _, ok := o.pending[from]; ok {
				delete(o.pending, from)
			} else {
				o.copied[from] = struct{}{}
			}
			o.stats.Moved++
		}
		o.process(r.Partition, &v.Event, r.Timestamp)
		return v
	}
	if o.cfg.partitions > 0 {
		if want := o.canonical(&v.Event); want != r.Partition {
			if _, ok := o.copied[pos]; ok {
				delete(o.copied, pos)
			} else {
				o.pending[pos] = pendingRecord{v.Event, r.Timestamp}
			}
			return v
		}
	}
	o.process(r.Partition, &v.Event, r.Timestamp)
	return v
}

func parsePos(s string) (recordPos, bool) {
	ps, os, ok := strings.Cut(s, "/")
	if !ok {
		return recordPos{}, false
	}
	p, err1 := strconv.ParseInt(ps, 10, 32)
	off, err2 := strconv.ParseInt(os, 10, 64)
	return recordPos{int32(p), off}, err1 == nil && err2 == nil
}

// flush takes the originals never seen moved as moved to their canonical
// partition now (the engine should have: they are expected) (o.mu held).
func (o *Oracle) flush() {
	for pos, pr := range o.pending {
		delete(o.pending, pos)
		o.stats.Unmoved++
		o.process(o.canonical(&pr.ev), &pr.ev, pr.ref)
	}
}

// process is one valid event in its canonical partition (o.mu held).
func (o *Oracle) process(pn int32, e *Event, ref int64) {
	p := o.parts[pn]
	if p == nil {
		p = &partition{seen: map[fingerprint]int64{}, ever: map[fingerprint]struct{}{}}
		o.parts[pn] = p
	}
	wm := p.watermark(o.cfg.ooo)
	id := identity(e.Key, e.ID)
	if first, ok := p.seen[id]; ok && (wm == noWatermark || first > wm-o.cfg.horizon) {
		o.stats.Duplicates++
		return
	}
	p.seen[id] = e.TS
	_, stale := p.ever[id]
	p.ever[id] = struct{}{}
	late := false
	if wm != noWatermark {
		for _, s := range o.cfg.sizes {
			if windowStart(e.TS, s) <= wm-s-o.cfg.lateness {
				late = true
			}
		}
	}
	o.countKind(e, late, stale)
	if late {
		return
	}
	if m := min(e.TS, ref); !p.any || m > p.maxMin {
		p.maxMin, p.any = m, true
	}
	p.counted++
	if len(p.seen) > 2*p.swept+1024 {
		o.sweep(p)
	}
}

// sweep forgets identities whose first copy is beyond the horizon.
func (o *Oracle) sweep(p *partition) {
	wm := p.watermark(o.cfg.ooo)
	for id, ts := range p.seen {
		if ts <= wm-o.cfg.horizon {
			delete(p.seen, id)
		}
	}
	p.swept = len(p.seen)
}

// canonical is the event's canonical partition: Kafka's default
// partitioner (murmur2 of the record key, positive, mod partitions) of the
// key, or of "key#i" for a hot key split n ways (i = FNV-1a-64(id) mod n).
func (o *Oracle) canonical(e *Event) int32 {
	if o.cfg.partitions <= 0 {
		return 0
	}
	rk := e.Key
	if n := o.cfg.hotKeys[e.Key]; n > 1 {
		h := fnv.New64a()
		h.Write([]byte(e.ID))
		rk += "#" + strconv.FormatUint(h.Sum64()%uint64(n), 10)
	}
	return int32(int64(murmur2([]byte(rk))&0x7fffffff) % int64(o.cfg.partitions))
}

// murmur2 is Kafka's murmur2 hash (org.apache.kafka.common.utils.Utils).
func murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	n := len(data)
	h := uint32(seed) ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch rest := n % 4; rest {
	case 3:
		h ^= uint32(data[n&^3+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[n&^3+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[n&^3])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
