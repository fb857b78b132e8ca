package query

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/countlab/countlab/engine/total"
)

// settleEvery is how often the sink's committed offsets are fetched while
// some window read from the aggregates topic may not be in InfluxDB yet.
const settleEvery = 500 * time.Millisecond

// freshness keeps the cache of InfluxDB answers from serving an answer
// older than a total InfluxDB holds for its windows.
//
// Every total InfluxDB holds was first committed to the aggregates topic:
// the sink writes what it reads there, and countlab reconcile publishes a
// repair there before it writes InfluxDB directly. The server reads the
// same topic, so it learns of every such total, and the sink's consumer
// group says how far InfluxDB has it: the sink commits an offset only once
// every total before it is written (or superseded by a newer one written).
//
// A window is pending from the moment a total of it is read until the
// sink's committed offset on the total's partition passes it; until then
// InfluxDB may hold the old total or the new one, and an answer covering
// the window is not cached. An answer is cached with the generation read
// when its InfluxDB query started, and served only while the generation is
// the same: reading any total of a window before the end of a range ever
// cached bumps it. So a cached answer was read from InfluxDB after every
// total the server had read for its windows was written, and no total of
// them has been read since. The one interval this cannot see is between
// the sink writing a total and the server reading it: both read the same
// records as they are committed, and the sink writes InfluxDB before it
// commits, so that is the server's consumer lag behind the sink
// (milliseconds), not the retention.
//
// Totals written to InfluxDB by anything but the sink and reconcile, with
// no record in the aggregates topic, are not seen: such writes must not
// change windows answered from the cache. With no sink group (or offsets
// it cannot fetch), windows the topic has totals for are never cached.
type freshness struct {
	gen atomic.Uint64

	mu       sync.Mutex
	cachedTo int64                     // end of the furthest range begun for the cache
	written  map[int32]int64           // the sink's committed offsets, as last fetched
	byPart   map[int32]map[winID]int64 // partition -> pending window -> highest offset read
	wins     map[tableID]map[int64]int // pending window -> partitions it is pending on
	pending  atomic.Int64              // pending windows (metrics)
}

// recPos is where a total was read: partition and offset.
type recPos struct {
	partition int32
	offset    int64
}

func newFreshness() *freshness {
	return &freshness{written: make(map[int32]int64), byPart: make(map[int32]map[winID]int64),
		wins: make(map[tableID]map[int64]int)}
}

// read notes the totals ts of one fetch, read at pos.
func (f *freshness) read(ts []total.Total, pos []recPos) {
	f.mu.Lock()
	defer f.mu.Unlock()
	bump := false
	for i := range ts {
		t, at := &ts[i], pos[i]
		bump = bump || t.Start < f.cachedTo
		if at.offset < f.written[at.partition] {
			continue // the sink is ahead: InfluxDB has it, or newer
		}
		w := winID{tableID{t.Size, t.Type}, t.Start}
		pw := f.byPart[at.partition]
		if pw == nil {
			pw = make(map[winID]int64)
			f.byPart[at.partition] = pw
		}
		if _, ok := pw[w]; !ok {
			f.addPending(w, 1)
		}
		pw[w] = at.offset
	}
	if bump {
		f.gen.Add(1)
	}
}

// addPending adds d (1 or -1) to the number of partitions w is pending on.
func (f *freshness) addPending(w winID, d int) {
	ws := f.wins[w.id]
	if ws == nil {
		ws = make(map[int64]int)
		f.wins[w.id] = ws
	}
	n := ws[w.start] + d
	switch {
	case n <= 0:
		delete(ws, w.start)
		if len(ws) == 0 {
			delete(f.wins, w.id)
		}
		f.pending.Add(-1)
	case n == 1 && d == 1:
		ws[w.start] = n
		f.pending.Add(1)
	default:
		ws[w.start] = n
	}
}

// settle records the sink's committed offsets: windows read before them
// are in InfluxDB.
func (f *freshness) settle(written map[int32]int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, off := range written {
		if off <= f.written[p] {
			continue
		}
		f.written[p] = off
		for w, o := range f.byPart[p] {
			if o < off {
				delete(f.byPart[p], w)
				f.addPending(w, -1)
			}
		}
	}
}

// begin is called before an InfluxDB query over the windows [from, to) of
// id whose answer may be cached: it returns the generation to cache it
// with, or ok false when a window of the range is pending (the answer must
// not be cached).
func (f *freshness) begin(id tableID, from, to int64) (gen uint64, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for start := range f.wins[id] {
		if start >= from && start < to {
			return 0, false
		}
	}
	f.cachedTo = max(f.cachedTo, to)
	return f.gen.Load(), true
}

// valid reports whether an answer cached with gen may be served.
func (f *freshness) valid(gen uint64) bool { return f.gen.Load() == gen }

// hasPending reports whether some window is pending.
func (f *freshness) hasPending() bool { return f.pending.Load() > 0 }

// sinkOffsets fetches the committed offsets of group on topic; a group
// that does not exist has none.
func sinkOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64)
	for p, o := range resp[topic] {
		if o.Err == nil && o.At >= 0 {
			out[p] = o.At
		}
	}
	return out, nil
}
