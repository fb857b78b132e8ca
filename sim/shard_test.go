package sim

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// shardKey is what makes an item the item it is: its send time, kind
// and bytes on the wire.
func shardKey(it *Item) string {
	return fmt.Sprintf("%d|%v|%s|%s", it.At, it.Kind, it.Hostile, wire(it, JSON))
}

// TestShardsPartitionTheStream: the shards of 1, 2, 3 and 4 of a stream
// with duplicates, malformed and hostile items (same-id pairs) are
// disjoint, their union is the unsharded stream exactly, every duplicate
// is in its original's shard, and each shard has about 1/N of it.
func TestShardsPartitionTheStream(t *testing.T) {
	cfg := testConfig()
	cfg.Hostile = Hostile{Fraction: 0.05}
	const end = 10 * time.Second
	items := func(sh Shard) []Item {
		g, err := NewGenerator(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return ShardItems(g, NewSchedule(Constant(2000), true, 9), sh, end)
	}
	whole := items(Shard{})
	if len(whole) < 15000 {
		t.Fatalf("whole stream: %d items", len(whole))
	}
	want := make([]string, len(whole))
	for i := range whole {
		want[i] = shardKey(&whole[i])
	}
	for n := 1; n <= 4; n++ {
		var got []string
		owner := map[string]int{} // event id -> shard of its first send
		for i := 0; i < n; i++ {
			part := items(Shard{I: i, N: n})
			if n > 1 {
				if share := float64(len(part)) / float64(len(whole)); share < 0.8/float64(n) || share > 1.2/float64(n) {
					t.Errorf("shard %d/%d: %.3f of the items", i, n, share)
				}
			}
			for j := range part {
				it := &part[j]
				got = append(got, shardKey(it))
				if it.Kind == KindMalformed {
					continue
				}
				if o, ok := owner[it.Event.ID]; ok && o != i {
					t.Fatalf("shard %d/%d sends id %s, first sent by shard %d", i, n, it.Event.ID, o)
				}
				owner[it.Event.ID] = i
			}
		}
		slices.Sort(got)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Fatalf("%d shards: the union (%d items) is not the whole stream (%d items)", n, len(got), len(w))
		}
	}
}

// TestShardPairsStayTogether: a same-id pair (withNext) is never split
// between shards.
func TestShardPairsStayTogether(t *testing.T) {
	cfg := hostileConfig(0.3)
	g, _ := NewGenerator(cfg)
	part := ShardItems(g, NewSchedule(Constant(1000), false, 1), Shard{I: 1, N: 3}, 5*time.Second)
	pairs := 0
	for i, it := range part {
		if it.withNext {
			pairs++
			if i+1 >= len(part) || !bytes.Equal([]byte(part[i+1].Event.ID), []byte(it.Event.ID)) {
				t.Fatalf("item %d: a pair's first without its second", i)
			}
		}
	}
	if pairs == 0 {
		t.Fatal("no pair in the shard: the test tests nothing")
	}
}

func TestParseShard(t *testing.T) {
	if s, err := ParseShard("2/4"); err != nil || s != (Shard{2, 4}) {
		t.Fatalf("2/4: %v %v", s, err)
	}
	for _, bad := range []string{"4/4", "-1/2", "1", "a/b", "0/0"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestShardedSenders: four Senders of shards 0..3, run at once, send
// together every item a whole Sender sends (by send time, kind and
// bytes), each once; a sharded Sender refuses tracers.
func TestShardedSenders(t *testing.T) {
	send := func(sh Shard) []string {
		var mu sync.Mutex
		var got []string
		tr := transportFunc(func(_ context.Context, items []Item, out []Outcome) error {
			mu.Lock()
			defer mu.Unlock()
			for i := range items {
				out[i] = Acked
				if items[i].Kind == KindMalformed {
					out[i] = Rejected
				}
				got = append(got, shardKey(&items[i]))
			}
			return nil
		})
		g, err := NewGenerator(testConfig())
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSender(SenderConfig{Generator: g, Schedule: NewSchedule(Constant(3000), false, 4), Duration: 300 * time.Millisecond,
			Transport: tr, Shard: sh})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return got
	}
	whole := send(Shard{})
	var union []string
	var wg sync.WaitGroup
	parts := make([][]string, 4)
	for i := range parts {
		wg.Add(1)
		go func() { defer wg.Done(); parts[i] = send(Shard{I: i, N: 4}) }()
	}
	wg.Wait()
	for _, p := range parts {
		if len(p) == 0 {
			t.Fatal("a shard sent nothing")
		}
		union = append(union, p...)
	}
	slices.Sort(whole)
	slices.Sort(union)
	if len(whole) < 800 || !slices.Equal(whole, union) {
		t.Fatalf("the four shards sent %d items, not the whole sender's %d", len(union), len(whole))
	}
	if _, err := NewSender(SenderConfig{Generator: &Generator{}, Schedule: &Schedule{}, Duration: time.Second, Transport: transportFunc(nil),
		Shard: Shard{I: 0, N: 2}, TracerEvery: time.Second}); err == nil {
		t.Fatal("a sharded sender with tracers: no error")
	}
}
