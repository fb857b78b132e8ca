package aggregate

import (
	"math"
	"time"

	"github.com/countlab/countlab/engine/total"
)

// minWatermark is the watermark of a partition that has seen no event.
const minWatermark = math.MinInt64

// watermark is one partition's event-time progress.
//
// The partition watermark W_p is the largest min(ts, ref) over the events
// counted on the partition (ts: the event time; ref: the Kafka record's
// timestamp, the gateway's receive time or a Kafka-direct producer's
// produce time) minus the bounded out-of-orderness O, raised (never
// lowered) to the worker watermark while the partition is idle. It is
// committed with the partition's state (dedup changelog) and restored with
// it, so it never goes back, across crashes and rebalances too.
//
// Because of min(ts, ref), an event ahead of its ingest time (validation
// allows up to the max future skew) is counted in its own window but moves
// W_p no further than its ingest time: no single event makes the on-time
// events after it late. ref is in the log, so a replay computes the same
// W_p.
//
// W_p is the watermark that decides, for the partition's events and
// windows (every total has Sub = its partition, so each window belongs to
// exactly one partition):
//
//   - an event at time t is too late when, for ANY configured size s,
//     WindowStart(t, s) + s + L <= W_p (L: allowed lateness), W_p taken
//     before the event is observed (the event cannot make itself late:
//     t - O < WindowStart(t, s) + s + L). A too-late event is counted in
//     none of its windows: it goes, raw, to the late topic, and
//     reconciliation counts it in all of them.
//   - a window [start, start+s) is final once start + s + L <= W_p: at the
//     next commit its total is written with Closed = true and it is
//     evicted. Closing and lateness use the same W_p, so no event is ever
//     counted into a window after it closed.
//
// The worker watermark is the minimum W_p over the worker's partitions
// that are not idle (no record for IdleTimeout of processing time). At each
// commit every idle partition's W_p is raised to it, so an idle partition
// does not hold windows open forever; when every partition is idle nothing
// advances.
type watermark struct {
	maxTS      int64 // the largest min(ts, ref) observed
	ahead      int64 // the largest ts - ref observed (0 if none ahead); restore.go, changelogFrom
	wm         int64
	lastRecord time.Time
}

func newWatermark(now time.Time) watermark {
	return watermark{maxTS: minWatermark, wm: minWatermark, lastRecord: now}
}

// observe takes in an event at time ts with record timestamp ref (ms).
func (w *watermark) observe(ts, ref, outOfOrder int64) {
	if ts > ref {
		w.ahead = max(w.ahead, ts-ref)
		ts = ref
	}
	if ts > w.maxTS {
		w.maxTS = ts
		if v := ts - outOfOrder; v > w.wm {
			w.wm = v
		}
	}
}

// merge takes in the state o read back from the changelog.
func (w *watermark) merge(o watermark) {
	w.raise(o.wm)
	w.maxTS = max(w.maxTS, o.maxTS)
	w.ahead = max(w.ahead, o.ahead)
}

// raise lifts the watermark to at least v.
func (w *watermark) raise(v int64) {
	if v > w.wm {
		w.wm = v
	}
}

func (w *watermark) idle(now time.Time, timeout time.Duration) bool {
	return now.Sub(w.lastRecord) >= timeout
}

// tooLate is the lateness rule above: ts is late on a partition with
// watermark wm for window sizes sizes (ms) and allowed lateness (ms).
func tooLate(ts, wm int64, sizes []int64, lateness int64) bool {
	if wm == minWatermark {
		return false
	}
	for _, s := range sizes {
		if total.WindowStart(ts, s)+s+lateness <= wm {
			return true
		}
	}
	return false
}
