package query

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/total"
)

// decodeChunk is the number of records decoded between two yields to the
// goroutines answering requests.
const decodeChunk = 256

// consumer reads the aggregates topic into the store: every partition, no
// consumer group, from the beginning (the topic is compacted, so that is
// the newest total of every series), committed transactions only. It
// keeps control records to follow its position exactly, so it knows when
// it has read up to the last stable offsets it found at startup: from
// then on the server is ready and answers recent ranges from memory.
type consumer struct {
	cl     *kgo.Client
	topic  string
	st     *store
	floor  func(size int64) int64
	m      *metrics
	log    *slog.Logger
	ready  chan struct{} // closed once caught up
	target map[int32]int64
	pos    map[int32]int64

	fresh     *freshness
	sinkGroup string
}

func newConsumer(c *cfg, st *store, floor func(int64) int64, fresh *freshness, m *metrics) (*consumer, error) {
	opts, err := c.conn.Opts()
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.ConsumeTopics(c.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(250*time.Millisecond),
		kgo.MetadataMaxAge(10*time.Second),
		kgo.MetadataMinAge(time.Second),
	)
	opts = append(opts, c.kafkaOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return &consumer{
		cl: cl, topic: c.topic, st: st, floor: floor, m: m, log: c.logger,
		ready: make(chan struct{}), pos: make(map[int32]int64), fresh: fresh, sinkGroup: c.sinkGroup,
	}, nil
}

// run consumes until ctx is done.
func (c *consumer) run(ctx context.Context) {
	defer c.cl.Close()
	if err := c.findTarget(ctx); err != nil {
		return
	}
	adm := kadm.NewClient(c.cl)
	c.fetchWritten(ctx, adm) // before reading: what the sink already wrote is not pending
	done := make(chan struct{})
	defer func() { <-done }()
	go func() { defer close(done); c.settleLoop(ctx, adm) }()
	c.checkReady()
	var batch []total.Total
	var at []recPos
	for {
		fs := c.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				c.log.Warn("query: fetch", "topic", t, "partition", p, "err", err)
			}
		})
		batch, at = batch[:0], at[:0]
		fs.EachRecord(func(r *kgo.Record) {
			c.pos[r.Partition] = r.Offset + 1
			if r.Attrs.IsControl() || r.Value == nil {
				return // transaction markers; tombstones (compaction deletes)
			}
			t, err := total.Unmarshal(r.Value)
			if err != nil {
				c.m.badRecords.Inc()
				return
			}
			batch = append(batch, t)
			at = append(at, recPos{r.Partition, r.Offset})
			if len(batch)%decodeChunk == 0 {
				runtime.Gosched() // as store.apply does between chunks
			}
		})
		if len(batch) > 0 {
			c.fresh.read(batch, at)
			c.st.apply(batch, c.floor)
			c.m.records.Add(float64(len(batch)))
		}
		c.checkReady()
	}
}

// settleLoop fetches the sink's committed offsets every settleEvery while
// a window is pending, until ctx is done.
func (c *consumer) settleLoop(ctx context.Context, adm *kadm.Client) {
	every(ctx, settleEvery, func() {
		if c.fresh.hasPending() {
			c.fetchWritten(ctx, adm)
		}
		c.m.pendingWindows.Set(float64(c.fresh.pending.Load()))
	})
}

// fetchWritten settles the windows the sink has written.
func (c *consumer) fetchWritten(ctx context.Context, adm *kadm.Client) {
	if c.sinkGroup == "" {
		return
	}
	written, err := sinkOffsets(ctx, adm, c.sinkGroup, c.topic)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("query: fetch the sink's committed offsets", "group", c.sinkGroup, "err", err)
		}
		return
	}
	c.fresh.settle(written)
}

// findTarget lists the last stable offsets to read up to before being
// ready, retrying until the cluster answers or ctx is done.
func (c *consumer) findTarget(ctx context.Context) error {
	adm := kadm.NewClient(c.cl)
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		target, err := c.listTarget(ctx, adm)
		if err == nil {
			c.target = target
			return nil
		}
		c.log.Warn("query: list aggregates offsets", "topic", c.topic, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
}

func (c *consumer) listTarget(ctx context.Context, adm *kadm.Client) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ends, err := adm.ListCommittedOffsets(ctx, c.topic)
	if err != nil {
		return nil, err
	}
	starts, err := adm.ListStartOffsets(ctx, c.topic)
	if err != nil {
		return nil, err
	}
	target := make(map[int32]int64)
	var ferr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			if !errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
				ferr = o.Err
			}
			return // a missing topic has nothing to read
		}
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && s.Err == nil && s.Offset >= o.Offset {
			return // empty
		}
		target[o.Partition] = o.Offset
	})
	return target, ferr
}

func (c *consumer) checkReady() {
	select {
	case <-c.ready:
		return
	default:
	}
	for p, t := range c.target {
		if c.pos[p] < t {
			return
		}
	}
	c.log.Info("query: aggregates read up to date", "topic", c.topic, "partitions", len(c.target))
	c.m.ready.Set(1)
	close(c.ready)
}

func (c *consumer) isReady() bool {
	select {
	case <-c.ready:
		return true
	default:
		return false
	}
}
