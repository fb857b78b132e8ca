package aggregate

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
)

func TestFetchPoolClasses(t *testing.T) {
	var p fetchPool
	for _, n := range []int{1, 2, 3, 1000, 1024, 1025} {
		s := p.GetRecords(n)
		if cap(s) < n || len(s) != 0 {
			t.Fatalf("GetRecords(%d): len %d cap %d", n, len(s), cap(s))
		}
		p.PutRecords(s[:cap(s)])
		if again := p.GetRecords(n); cap(again) < n {
			t.Fatalf("GetRecords(%d) again: cap %d", n, cap(again))
		}
	}
	// A buffer grown by the client (any capacity) comes back in the class
	// it fills, and is handed out only where it is large enough.
	p.PutDecompressBytes(make([]byte, 5000))
	if b := p.GetDecompressBytes(make([]byte, 100), kgo.CodecSnappy); cap(b) < 300 {
		t.Fatalf("decompress buffer cap %d", cap(b))
	}
	if floorClass(4096) != 12 || floorClass(4097) != 12 || ceilClass(4097) != 13 || ceilClass(1) != 0 || ceilClass(0) != 0 {
		t.Fatal("size classes")
	}
}

// TestRecycledRecordsIntact runs many short batches whose polled records
// are recycled into the client's pool after each commit, with dead
// letters and late records in every batch (they share the polled records'
// bytes until their transaction ends): every dead letter and late record
// carries exactly the bytes of the record it came from, and the totals
// are exact.
func TestRecycledRecordsIntact(t *testing.T) {
	e := newEnv(t, 4)
	w, stop := e.worker(CommitInterval(20 * time.Millisecond))
	select {
	case <-w.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("worker not ready")
	}
	k1 := keyOn("late", 1, 4)
	jump := tev{p: 1, e: event.Event{ID: "jump", Key: k1, Type: "VIEW", Value: 1, TS: base + 10*60_000}}
	e.produce([]tev{jump})
	all := []tev{jump}
	const rounds = 12
	for r := range rounds {
		// On time: after the jump, so only the late events below are late.
		evs := withDups(gen(4, 1500, r*1500, base+11*60_000+int64(r)*20_000, 20_000), 9, 30)
		for i := range 3 {
			// Malformed, each one's bytes its own.
			evs = append(evs, tev{p: int32(i), raw: fmt.Appendf(nil, `{"id":"bad-%d-%d","key":"k%d"`, r, i, i), e: event.Event{Key: "k" + strconv.Itoa(i)}})
		}
		evs = append(evs, tev{p: 1, late: true, e: event.Event{ID: fmt.Sprintf("late-%d", r), Key: k1, Type: "CLICK", Value: float64(r + 1), TS: base + 30_000}})
		e.produce(evs)
		all = append(all, evs...)
		time.Sleep(30 * time.Millisecond) // a commit or two between rounds
	}
	e.waitCommitted(DefaultGroup, 60*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	compare(t, e.finalTotals(), truth(all, sizes))
	if w.fpool.reused.Load() == 0 {
		t.Fatal("no pooled slab or buffer was reused: the test did not exercise recycling")
	}

	src := map[string][]byte{} // "partition@offset" -> value
	var values []string
	for _, r := range e.readTopic(e.topics.Events) {
		src[strconv.Itoa(int(r.Partition))+"@"+strconv.FormatInt(r.Offset, 10)] = r.Value
		values = append(values, string(r.Value))
	}
	dl := e.readTopic(e.topics.DeadLetter)
	if len(dl) != 3*rounds {
		t.Fatalf("dead-letter topic has %d records, want %d", len(dl), 3*rounds)
	}
	for _, r := range dl {
		origin := kafka.Header(r, kafka.HeaderOrigin) // topic/partition@offset
		at := origin[strings.LastIndexByte(origin, '/')+1:]
		if want, ok := src[at]; !ok || string(want) != string(r.Value) {
			t.Errorf("dead letter of %s: value %q, the record there has %q", origin, r.Value, want)
		}
	}
	late := e.readTopic(e.topics.Late)
	if len(late) != rounds {
		t.Fatalf("late topic has %d records, want %d", len(late), rounds)
	}
	seen := map[string]bool{}
	for _, v := range values {
		seen[v] = true
	}
	for _, r := range late {
		var ev event.Event
		if _, err := event.Decode(r.Value, &ev); err != nil || !seen[string(r.Value)] || !strings.HasPrefix(ev.ID, "late-") {
			t.Errorf("late record %q (%v): not the bytes of a produced late event", r.Value, err)
		}
	}
}
