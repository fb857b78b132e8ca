package reconcile

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Safety against the streaming engine: which windows reconcile may write.
//
// Reconcile must never write a window the engine (package aggregate) still
// updates or will update again: the engine's next total would overwrite the
// repair, or reconcile's total would lack events the engine counted and
// regress the window. The rule, per partition p of the events topic, for a
// window w = [start, start+s) with Sub p:
//
//	safe(w) iff C_p >= X_p and (A(w) or start + s + L + O <= M_p)
//
// where
//
//   - X_p is one past the offset of the last data record reconcile read
//     from p (read_committed, from the log start up to the last stable
//     offset LSO_p when the read began; 0 when none). Every record reconcile
//     counted is below X_p, and every committed record below LSO_p was read.
//   - M_p is the largest min(ts, ref) (event time, record timestamp) of a
//     valid record reconcile read from p whose canonical partition is p
//     (records the engine moves away from p are not observed there).
//   - C_p is the engine group's committed offset for p, fetched (with
//     RequireStable: no transactional offset commit pending) AFTER the read.
//   - L and O are the engine's allowed lateness and bounded
//     out-of-orderness (they must be the engine's: Config.Lateness and
//     Config.OutOfOrderness default to the engine's defaults).
//   - A(w) says the newest committed aggregates record of w, read BEFORE
//     the events read began, has Closed = true.
//
// The engine facts used (aggregate/watermark.go, worker.go, commit.go; the
// engine in its default exactly-once mode: aggregate.AtLeastOnce keeps no
// watermark across restarts, and nothing here holds for it):
//
//	E1. A batch's totals, the Closed totals of the windows due at its
//	    commit, its changelog record (holding the partition watermark W_p)
//	    and its consumed offsets are committed in ONE transaction. W_p never
//	    decreases, across crashes and rebalances too (restored from the
//	    changelog with the offsets), and the group's committed offset is one
//	    past the last record the engine processed (control records do not
//	    advance it, which is why X_p is taken at the last data record).
//	E2. After the engine processes a valid record of p's own (canonical
//	    partition p) at time ts with record timestamp ref,
//	    W_p >= min(ts, ref) - O: either it observes min(ts, ref), or the
//	    record is too late, which means WindowStart(ts, s') + s' + L <= W_p
//	    for some size s', and then ts < WindowStart(ts, s') + s' <= W_p.
//	E3. An event is counted into w only if it is not too late, which needs
//	    start + s + L > W_p (tooLate checks the window of every size).
//	E4. The engine writes Closed = true for w only at a commit whose
//	    W_p >= start + s + L, and never writes w again (E3; restore skips
//	    Closed totals, so w is never re-opened).
//
// Say w is closed at time t when a committed W_p >= start + s + L at t. By
// E1 and E3, once w is closed the engine never counts into or writes w
// again, and every event it counted into w is at an offset below its
// committed offset at t, hence below the LSO at t.
//
// Proof that safe(w) means the engine has finished w and reconcile's total
// is a superset of what the engine counted (so writing it can neither be
// overwritten by the engine nor regress the window):
//
//   - Case start + s + L + O <= M_p. C_p >= X_p: the engine processed every
//     record reconcile read (both read the same committed records of p in
//     offset order, from the log start: the engine group starts at the log
//     start and its offsets are assumed never to be moved past records it
//     did not process), in committed transactions (E1). By E2, right after
//     the record at M_p, W_p >= M_p - O >= start + s + L: w was closed from
//     then on, and that record is below X_p. So every event the engine
//     counted into w is below X_p, which reconcile counted too, and the
//     engine never touches w again.
//
// Moved records do not change this: the engine counts an event found
// outside its canonical partition only as its copy in partition p (E1:
// produced with the original's offset commit), a record of p like any
// other; reconcile counts the copy when it read it and otherwise the
// original, at p. A copy written after the read lands in p after X_p, once
// w is closed, so the engine finds it too late and counts it in no window.
//   - Case A(w). A committed Closed record of w is either the engine's (E4:
//     w was closed when it committed) or a previous reconcile's, written
//     only when safe(w) held then, i.e., again after w was closed
//     (induction over runs). Either way w was closed before the aggregates
//     read began, hence before the events read began: every event the
//     engine counted into w is below the LSO at that time, below LSO_p, so
//     reconcile read it; and the engine never touches w again.
//
// A window that is not safe is reported in Result.SkippedOpen and not
// written; a later run repairs it once it is closed. When C_p < X_p (the
// engine has not processed everything reconcile counted on p) Run waits up
// to Config.WaitForEngine for the engine, and otherwise skips every window
// of p and lists p in Result.PartitionsEngineBehind.
//
// Order of the two writes: reconcile's total of a safe w is published to
// partition Sub of the aggregates topic after the engine's last total of w
// (which was committed before w closed, before the C_p fetch), so the sink
// and the query service, reading that partition in order, end with
// reconcile's total. The direct InfluxDB write may be overwritten for a
// moment by a lagging sink writing the engine's older total, and is then
// restored when the sink reaches reconcile's record. One reconcile runs at
// a time: runs share Config.TransactionalID, which fences the Kafka writes
// of an older concurrent run.
type safety struct {
	lateness, outOfOrder int64 // ms
	parts                map[int32]*partRead
	ahead                map[int32]bool // C_p >= X_p
}

// safe is the rule above for total key k's window (sub, start, size);
// closed is A(w).
func (s *safety) safe(sub int, start, size int64, closed bool) bool {
	p := int32(sub)
	pr := s.parts[p]
	if pr == nil || pr.end == 0 {
		// Nothing read from p: C_p >= X_p = 0 holds; only A(w) can prove
		// the window closed.
		return closed
	}
	if !s.ahead[p] {
		return false
	}
	return closed || (pr.valid && start+size+s.lateness+s.outOfOrder <= pr.maxTS)
}

// engineOffsets waits, up to wait, until the engine group's committed offset
// C_p of every partition in need is >= X_p, polling every 200ms. It returns
// the partitions that are not (sorted) and the committed offsets it saw.
func engineOffsets(ctx context.Context, adm *kadm.Client, group, topic string, need map[int32]int64, wait time.Duration) ([]int32, map[int32]int64, error) {
	deadline := time.Now().Add(wait)
	seen := make(map[int32]int64)
	for {
		fctx, cancel := context.WithTimeout(kadm.RequireStable(ctx), 30*time.Second)
		resp, err := adm.FetchOffsets(fctx, group)
		cancel()
		if err != nil && ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		var behind []int32
		for p, x := range need {
			c := int64(-1)
			if err == nil {
				if o, ok := resp.Lookup(topic, p); ok && o.Err == nil {
					c = o.At
				}
			}
			seen[p] = c
			if c < x {
				behind = append(behind, p)
			}
		}
		slices.Sort(behind)
		if len(behind) == 0 || !time.Now().Before(deadline) {
			if err != nil && len(behind) > 0 {
				return behind, seen, fmt.Errorf("reconcile: fetch offsets of group %s: %w", group, err)
			}
			return behind, seen, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(min(200*time.Millisecond, time.Until(deadline)+time.Millisecond)):
		}
	}
}

// newAdmin is a short-lived admin client.
func newAdmin(base []kgo.Opt) (*kgo.Client, *kadm.Client, error) {
	cl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, nil, fmt.Errorf("reconcile: kafka client: %w", err)
	}
	return cl, kadm.NewClient(cl), nil
}
