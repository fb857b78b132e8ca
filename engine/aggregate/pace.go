package aggregate

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Commit pacing: how long a batch stays open, chosen by the lag.
//
// A commit has a fixed cost (the transaction's round trips, one changelog
// record per partition, the totals of every window the batch touched,
// each of them decoded again by the sink and the query service), so fewer,
// larger batches cost less per event: a window touched by many events of a
// batch is written once. A batch's first events become visible only when
// it commits, so the interval is also what freshness pays.
//
// The rule: while the worker keeps up (every poll read its partitions to
// their high watermark), batches commit every CommitInterval. When a poll
// leaves records behind, the worker is late by lagAge (now minus the
// timestamp of the last record it polled from the partition furthest
// behind): freshness is already lagAge, so the batch may stay open that
// long too, up to MaxCommitInterval, and the worker catches up sooner on
// the cheaper commits. Whatever the interval, a batch commits once any
// partition's new dedup ids reach maxBatchIDs, which bounds a batch's undo
// set and its changelog records (commit.go: at most maxChangelogIDs ids a
// record; a poll may still bring more than maxBatchIDs at once).
//
// The interval changes when a batch commits, never what it holds: every
// batch is committed or undone whole (commit.go), so the totals are the
// same at every interval.

// DefaultMaxCommitInterval is the longest a batch stays open while the
// worker is behind.
const DefaultMaxCommitInterval = 500 * time.Millisecond

// maxBatchIDs bounds the new dedup ids of one partition in a batch: past
// it the batch commits after the poll that filled it.
const maxBatchIDs = 16 << 10

// pace is the worker's view of its lag, updated by every poll.
type pace struct {
	lagAge time.Duration // how late the worker is; 0 while it keeps up
	full   bool          // a partition's new dedup ids reached maxBatchIDs
}

// observe updates the lag from one partition's polled records (not empty).
func (pc *pace) observe(ft *kgo.FetchTopicPartition, now time.Time) {
	last := ft.Records[len(ft.Records)-1]
	if ft.HighWatermark-last.Offset-1 <= 0 {
		return
	}
	if age := now.Sub(last.Timestamp); age > pc.lagAge {
		pc.lagAge = age
	}
}

// interval is how long the open batch may stay open: CommitInterval while
// the worker keeps up, its lag (bounded by MaxCommitInterval) when behind,
// and nothing once a partition's batch is full.
func (w *Worker) interval() time.Duration {
	if w.pace.full {
		return 0
	}
	return min(max(w.pace.lagAge, w.cfg.commitInterval), max(w.cfg.maxCommitInterval, w.cfg.commitInterval))
}

// MaxCommitInterval is the longest a batch stays open while the worker is
// behind (default 500ms; at most CommitInterval turns the pacing off): see
// pace.go.
func MaxCommitInterval(d time.Duration) Opt {
	return optFn(func(c *cfg) { c.maxCommitInterval = d })
}
