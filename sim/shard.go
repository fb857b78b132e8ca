package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Shard is part I of N of a scenario's traffic: a generator process sends
// only the items of its shard, and N processes with the same seed, start
// and id prefix together send exactly the items of the unsharded stream
// (each once), at the same intended send times.
//
// Every process draws the whole stream (the schedule and the generator,
// with the same seed) and keeps what belongs to its shard: a distinct
// event by its Seq modulo N, so that every duplicate of it (which carries
// its Seq) is sent by the shard that sent the original; a malformed item
// by its place among the malformed ones; an item that must go with the
// one before it (a same-id pair) follows that one. So each shard has about
// 1/N of the rate and the key skew stays the scenario's. The zero Shard
// (N 0) is the whole stream.
type Shard struct{ I, N int }

// ParseShard reads "I/N" (0 <= I < N).
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("want I/N with 0 <= I < N, e.g. 0/4 (got %q)", s)
	}
	return Shard{I: i, N: n}, nil
}

func (s Shard) String() string { return strconv.Itoa(s.I) + "/" + strconv.Itoa(s.N) }

// whole says s is the whole stream.
func (s Shard) whole() bool { return s.N <= 1 }

// stream yields the items of a shard in order of intended send time.
type stream struct {
	g     *Generator
	sch   *Schedule
	sh    Shard
	end   time.Duration // items are drawn up to here
	at    time.Duration // the next item's intended send time
	it    Item          // the next item (sharded: drawn ahead)
	mal   uint64        // malformed items drawn so far
	keep  bool          // whether the last drawn item was kept
	chain bool          // the last drawn item must go with the next
}

func newStream(g *Generator, sch *Schedule, sh Shard, end time.Duration) *stream {
	s := &stream{g: g, sch: sch, sh: sh, end: end}
	if sh.whole() {
		s.at = sch.Next()
	} else {
		s.draw()
	}
	return s
}

// next is the next item's intended send time (>= end: none left).
func (s *stream) next() time.Duration { return s.at }

// take is the next item.
func (s *stream) take() Item {
	var it Item
	s.takeInto(&it)
	return it
}

// takeInto writes the next item into *it (every field).
func (s *stream) takeInto(it *Item) {
	if s.sh.whole() {
		s.g.next(it, s.at)
		s.at = s.sch.Next()
		return
	}
	*it = s.it
	s.draw()
}

// draw draws the whole stream up to the shard's next item.
func (s *stream) draw() {
	for {
		s.at = s.sch.Next()
		if s.at >= s.end {
			return
		}
		// In place, as the schedule takes items: a shard of N draws N
		// items for each one it sends. s.it is read only after a draw
		// that kept it (take runs while next() < end).
		it := &s.it
		s.g.next(it, s.at)
		if !s.chain {
			s.keep = s.owns(it)
		} else if it.Kind == KindMalformed {
			s.mal++ // counted, the decision stays the pair's
		}
		s.chain = it.withNext
		if s.keep {
			return
		}
	}
}

// owns says whether the shard sends it (the first of a chain).
func (s *stream) owns(it *Item) bool {
	n := uint64(s.sh.N)
	if it.Kind == KindMalformed {
		s.mal++
		return (s.mal-1)%n == uint64(s.sh.I)
	}
	return it.Seq%n == uint64(s.sh.I)
}

// ShardItems are the items of shard sh of a stream of generator g on
// schedule sch up to end, in order (for tests and tools; a Sender with
// SenderConfig.Shard sends the same).
func ShardItems(g *Generator, sch *Schedule, sh Shard, end time.Duration) []Item {
	var out []Item
	for s := newStream(g, sch, sh, end); s.next() < end; {
		out = append(out, s.take())
	}
	return out
}
