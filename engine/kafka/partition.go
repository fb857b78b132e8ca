package kafka

import "strconv"

// The canonical partition of an event (docs/ingest-contract.md, "Identity
// and deduplication"): the engine does not depend on the producer's
// partitioner. An event belongs to partition
//
//	murmur2(record key) & 0x7fffffff mod partitions
//
// of the events topic (Kafka's default partitioner, and franz-go's
// kgo.StickyKeyPartitioner(nil) for a non-nil key), where the record key is
// the event's counted key, or "key#i" with i = FNV-1a-64(id) mod n for a
// hot key split n ways (RecordKey). The gateway and the sim's Kafka-direct
// producer produce there; the engine moves a record found elsewhere.

// HeaderMovedFrom is the header of an events record the engine moved to its
// canonical partition: "PARTITION/OFFSET" of the original record.
const HeaderMovedFrom = "countlab-moved-from"

// FNV-1a 64-bit parameters.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// FNV1a64 is the FNV-1a 64-bit hash of s (hash/fnv without the allocation).
func FNV1a64(s string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// AppendRecordKey appends the canonical Kafka record key of an event with
// counted key key and event id id: the key itself, or "key#i" with
// i = FNV-1a-64(id) mod n when hot[key] = n > 1 (a hot key split n ways).
// One event id always maps to one sub-key, so every copy of an event has
// one canonical partition.
func AppendRecordKey(dst []byte, hot map[string]int, key, id string) []byte {
	dst = append(dst, key...)
	if len(hot) > 0 {
		if n := hot[key]; n > 1 {
			dst = append(dst, '#')
			dst = strconv.AppendUint(dst, FNV1a64(id)%uint64(n), 10)
		}
	}
	return dst
}

// Partition is the canonical partition of a record with key key on a topic
// of n > 0 partitions: murmur2(key) & 0x7fffffff mod n, as Kafka's default
// partitioner and kgo.StickyKeyPartitioner(nil) choose for a non-nil key.
func Partition(key []byte, n int32) int32 {
	return int32((murmur2(key) & 0x7fffffff) % uint32(n))
}

// murmur2 is Kafka's murmur2 (Utils.murmur2 of the Java client), bit for
// bit as franz-go's.
func murmur2(b []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for len(b) >= 4 {
		k := uint32(b[3])<<24 | uint32(b[2])<<16 | uint32(b[1])<<8 | uint32(b[0])
		b = b[4:]
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
