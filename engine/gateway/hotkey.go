package gateway

import "strconv"

// FNV-1a 64-bit parameters.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// fnv1a64 is the FNV-1a 64-bit hash of s (hash/fnv without the allocation).
func fnv1a64(s string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// appendRecordKey appends the Kafka record key of an event with counted key
// key and event id id: the key itself, or "key#i" with i = FNV-1a-64(id) % n
// when key is a hot key split into n > 1 sub-keys. One event id always maps
// to one sub-key, so a re-sent event lands in the same partition as the
// first copy and the engine's per-partition dedup catches it.
func appendRecordKey(dst []byte, hot map[string]int, key, id string) []byte {
	dst = append(dst, key...)
	if n := hot[key]; n > 1 {
		dst = append(dst, '#')
		dst = strconv.AppendUint(dst, fnv1a64(id)%uint64(n), 10)
	}
	return dst
}
