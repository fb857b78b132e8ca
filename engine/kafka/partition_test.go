package kafka

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPartitionMatchesKgo: Partition chooses what franz-go's default key
// partitioner (Kafka's murmur2) chooses, for keys of every length mod 4,
// non-ASCII bytes and hot sub-keys, on several partition counts.
func TestPartitionMatchesKgo(t *testing.T) {
	kp := kgo.StickyKeyPartitioner(nil).ForTopic("events")
	hot := map[string]int{"hot": 5}
	keys := []string{"", "a", "ab", "abc", "abcd", "video-0042", "ünïcode-ключ", "\xff\xfe\x80"}
	for i := range 500 {
		keys = append(keys, fmt.Sprintf("k%d", i), string(AppendRecordKey(nil, hot, "hot", fmt.Sprintf("id-%d", i))))
	}
	for _, n := range []int32{1, 2, 3, 4, 7, 12, 64} {
		for _, k := range keys {
			r := &kgo.Record{Key: []byte(k)}
			if want, got := int32(kp.Partition(r, int(n))), Partition([]byte(k), n); got != want {
				t.Fatalf("key %q, %d partitions: got %d, kgo %d", k, n, got, want)
			}
		}
	}
}

func TestAppendRecordKey(t *testing.T) {
	hot := map[string]int{"hot": 4, "one": 1}
	if got := string(AppendRecordKey(nil, hot, "cold", "x")); got != "cold" {
		t.Fatalf("cold key: %q", got)
	}
	if got := string(AppendRecordKey(nil, hot, "one", "x")); got != "one" {
		t.Fatalf("key split 1 way: %q", got)
	}
	want := fmt.Sprintf("hot#%d", FNV1a64("id-7")%4)
	if got := string(AppendRecordKey(nil, hot, "hot", "id-7")); got != want {
		t.Fatalf("hot key: %q, want %q", got, want)
	}
	if FNV1a64("") != fnvOffset64 || FNV1a64("a") != 0xaf63dc4c8601ec8c {
		t.Fatal("FNV-1a 64 test vectors")
	}
}
