package aggregate

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A poll's records are handled partition by partition, and partitions
// side by side on up to GOMAXPROCS goroutines: a partition's state
// (dedup set, windows, watermark, hot keys) and its record scratch are its
// own, and what they share is safe to share (the client's Produce, the
// metrics, the read-only config). Within a partition the records keep
// their log order, which the dedup rule (the first copy in the log wins)
// and the watermark need; across partitions no order is promised. The
// batch is still one transaction: commit runs after every partition of
// the poll is done.
//
// Before this, the worker's one goroutine decoded, validated, deduped and
// added every event while the client's fetch and produce goroutines and
// the broker left the second core half idle (BenchmarkPipeline used 1.2
// of 2 cores).

// minParallelRecords is the fewest records in a poll worth spreading
// over goroutines (starting them costs a few microseconds).
const minParallelRecords = 512

// partJob is one partition's records of a poll.
type partJob struct {
	p  *partition
	ft kgo.FetchTopicPartition
}

// runJobs handles jobs' records: sequentially when there is one job, few
// records, one core, or a planted bug (whose every-Nth-event counter is
// the worker's); else on goroutines that take whole partitions from a
// shared cursor, every job of one partition on the one goroutine, in
// order.
func (w *Worker) runJobs(ctx context.Context, jobs []partJob) {
	n := 0
	for i := range jobs {
		n += len(jobs[i].ft.Records)
	}
	procs := runtime.GOMAXPROCS(0)
	if len(jobs) < 2 || n < minParallelRecords || procs < 2 || w.cfg.plantBug > 0 {
		for i := range jobs {
			w.recordsOf(ctx, &jobs[i])
		}
		return
	}
	// Group the jobs by partition (a partition may come in more than one
	// fetch of a poll), keeping their order.
	groups := make([][]*partJob, 0, len(jobs))
	at := make(map[*partition]int, len(jobs))
	for i := range jobs {
		j := &jobs[i]
		g, ok := at[j.p]
		if !ok {
			g = len(groups)
			at[j.p] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], j)
	}
	var next atomic.Int64
	work := func() {
		for {
			g := int(next.Add(1) - 1)
			if g >= len(groups) {
				return
			}
			for _, j := range groups[g] {
				w.recordsOf(ctx, j)
			}
		}
	}
	workers := min(procs, len(groups))
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work) // the goroutines inherit the caller's pprof labels
	}
	work()
	wg.Wait()
}
