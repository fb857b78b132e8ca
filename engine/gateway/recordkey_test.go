package gateway

import (
	"hash/fnv"
	"strconv"
	"testing"

	"github.com/countlab/countlab/engine/kafka"
)

func TestAppendRecordKey(t *testing.T) {
	hot := map[string]int{"hot": 5, "one": 1}
	f := func(key, id, want string) {
		t.Helper()
		if got := string(kafka.AppendRecordKey([]byte("x"), hot, key, id)); got != "x"+want {
			t.Errorf("AppendRecordKey(%q, %q) = %q, want %q", key, id, got, "x"+want)
		}
	}
	sub := func(id string) string {
		h := fnv.New64a()
		h.Write([]byte(id))
		return strconv.FormatUint(h.Sum64()%5, 10)
	}
	f("cold", "e-1", "cold")
	f("one", "e-1", "one") // a split of 1 is no split
	f("", "e-1", "")
	for _, id := range []string{"", "e-1", "e-2", "a much longer event id 0123456789", "ü"} {
		f("hot", id, "hot#"+sub(id))
	}
	// The sub-keys spread: 1000 ids hit all 5.
	seen := map[string]bool{}
	for i := range 1000 {
		seen[string(kafka.AppendRecordKey(nil, hot, "hot", "id-"+strconv.Itoa(i)))] = true
	}
	if len(seen) != 5 {
		t.Errorf("1000 ids hit %d sub-keys, want 5", len(seen))
	}
}
