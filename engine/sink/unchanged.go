package sink

import (
	"sync/atomic"

	"github.com/countlab/countlab/engine/total"
)

// The aggregator writes a window's total at every commit that touched the
// window, and once more, Closed, at the commit whose watermark passed the
// window's end plus the lateness. When no event touched the window since
// its last total, that Closed total carries the same count, sum, min and
// max: the same InfluxDB point (the point does not store Closed), and
// writing it again is work for nothing. The sink remembers, per window,
// the fields of the last point InfluxDB acknowledged to it, and does not
// write a total equal to them (countlab_sink_points_unchanged_total).
//
// Exactness: a total is skipped only when InfluxDB acknowledged this very
// point for this very window (series and time) to this sink, since its
// partitions were last assigned, and nothing since can have replaced it:
//   - another owner of the partition writes only after a rebalance, and
//     every assignment, revocation or loss forgets everything;
//   - a dead-letter replay writes old totals of its own: any replay that
//     wrote a point forgets everything;
//   - a point is remembered only after InfluxDB acknowledged its write
//     (not when rejected, dead-lettered or past its retention), and an
//     acknowledged write stays (countlab's influxd fsyncs its WAL before
//     it acknowledges, engine/influxd); any failed write forgets
//     everything, since InfluxDB may have restarted;
//   - reconcile writes InfluxDB directly only a window whose Closed total
//     is already committed, and publishes its repair to the aggregates
//     topic after it: the Closed total forgets its window (whether written
//     or skipped), so the repair is always written.
//
// The memory is one entry per open window of the sink's partitions, at most
// maxUnchanged entries (beyond, it forgets everything: only rewrites are
// lost).
type unchanged struct {
	last map[pointID]pointFields
	// forget is set by the rebalance callbacks and the dead-letter
	// replay (other goroutines); the poll loop clears last when it is.
	forget atomic.Bool
}

// pointID is what makes a total's InfluxDB point: its series and time.
type pointID struct {
	key, typ, dims string
	sub            int
	size, start    int64
}

type pointFields struct {
	count         int64
	sum, min, max float64
}

// maxUnchanged bounds the windows remembered.
const maxUnchanged = 1 << 17

func idOf(t *total.Total) pointID {
	return pointID{key: t.Key, typ: t.Type, dims: t.DimSet, sub: t.Sub, size: t.Size, start: t.Start}
}

func fieldsOf(t *total.Total) pointFields {
	return pointFields{count: t.Count, sum: t.Sum, min: t.Min, max: t.Max}
}

// drop returns items without those equal to the point last written for
// their window (in place); a Closed total forgets its window. It clears
// the memory first when forget was set.
func (u *unchanged) drop(items []item) (kept []item, dropped int) {
	if u.forget.Swap(false) || u.last == nil {
		u.last = make(map[pointID]pointFields)
	}
	kept = items[:0]
	for _, it := range items {
		id := idOf(&it.t)
		f, ok := u.last[id]
		if it.t.Closed {
			delete(u.last, id)
		}
		if ok && f == fieldsOf(&it.t) {
			dropped++
			continue
		}
		kept = append(kept, it)
	}
	return kept, dropped
}

// remember records the points of items InfluxDB acknowledged: all but
// rej and those written is false for (past their retention). A Closed
// total is not remembered (no later total of its window is the
// aggregator's).
func (u *unchanged) remember(items []item, rej []rejected, written func(*total.Total) bool) {
	if u.forget.Load() || u.last == nil {
		return // cleared at the next drop anyway
	}
	bad := make(map[pointID]bool, len(rej))
	for i := range rej {
		bad[idOf(&rej[i].t)] = true
	}
	for i := range items {
		t := &items[i].t
		id := idOf(t)
		if t.Closed || bad[id] || !written(t) {
			delete(u.last, id)
			continue
		}
		u.last[id] = fieldsOf(t)
	}
	if len(u.last) > maxUnchanged {
		u.last = make(map[pointID]pointFields)
	}
}
