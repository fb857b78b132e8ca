// Package aggregate is the reference engine's exactly-once event-time
// aggregator: a consumer-group worker that reads raw events, dedups them by
// identity (key, id), counts them into tumbling event-time windows and
// writes the windows' absolute totals, all inside Kafka transactions. It
// implements the engine side of docs/ingest-contract.md.
//
// One Worker is one consumer-group member with its own transactional id.
// For every record of the events topic it decodes and validates the event
// with the record's timestamp as the reference time (malformed: a
// dead-letter record with the reason), then:
//
//   - if the record is not in the event's canonical partition (murmur2 of
//     the canonical record key, kafka.Partition; see HotKeys), it is moved:
//     produced unchanged (value, original timestamp, headers; key = the
//     canonical record key) to the canonical partition with the header
//     kafka.HeaderMovedFrom = "PARTITION/OFFSET", in the transaction that
//     commits its offset, and counted there only, when read back. So the
//     count does not depend on the producer's partitioner, and a crash
//     neither loses the record nor moves it twice (the move and the offset
//     commit are one transaction). A moved copy is never moved again. The
//     events topic's partition count is read when the worker starts
//     (adding partitions changes canonical partitions, as it changes
//     Kafka's default partitioner's);
//   - drops it if too late (the raw record to the late topic, see
//     watermark.go for the rule and for the watermark, which advances by
//     min(ts, record timestamp) so no event ahead of its ingest time makes
//     on-time events late);
//   - drops it if its (key, id) was already counted on the partition
//     (dedup.go), whatever its other fields;
//   - and otherwise adds it to the total of its window of every configured
//     size, keyed by (size, type, key, dims, window) with Sub = the
//     partition.
//
// Every CommitInterval (longer while the worker is behind: pace.go) the
// touched totals (absolute values) go to the aggregates topic, partition =
// source partition, together with one dedup changelog record per changed
// partition, the dead-letter, late and moved records, and the consumed
// offsets, in ONE transaction
// (kgo.GroupTransactSession). A transaction that aborts (rebalance,
// fencing, error) is undone in memory from the per-batch undo set
// (window.go), and the client rewinds to the committed offsets, so the
// batch is replayed against exactly the committed state.
//
// A newly assigned partition's state (open totals, dedup ids, watermark)
// is restored from the aggregates and changelog topics before any of its
// records is processed (restore.go). A key split over several partitions
// (a hot key) has one total per partition: totals carry Sub.
package aggregate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/countlab/countlab/engine/event"
)

// Source is the dead-letter source header value of the engine.
const Source = "engine"

var errNoState = errors.New("aggregate: no state for partition")

// Worker is one aggregator worker (one consumer-group member).
type Worker struct {
	cfg        cfg
	m          *metrics
	gatherer   prometheus.Gatherer
	dedupWidth int64

	sess *kgo.GroupTransactSession // nil in at-least-once mode
	cl   *kgo.Client

	parts map[int32]*partition

	mu      sync.Mutex
	pending []assignment
	hotKeys []HotKey

	// partitions is the events topic's partition count, read at start:
	// the canonical partitions are computed over it.
	partitions int32

	ready     chan struct{}
	readyOnce sync.Once

	txnOpen bool
	pace    pace // pace.go

	promiseFn func(*kgo.Record, error) // w.promise, made once: a method value allocates

	prodMu  sync.Mutex
	prodErr error

	counts batchCounts
	bugN   int
	jobs   []partJob // the poll's records by partition (parallel.go)
	out    outBatch  // the records a commit produces (encode.go)

	fpool fetchPool     // the client's record and decompression pool (fetchpool.go)
	held  []kgo.Fetches // the open batch's polls, recycled when it ends

	lastReport time.Time
	hotLogged  map[string]bool
	attrs      attrBatch // attribute totals of the windows the open commit closes (attr.go)

	// beforeEnd, set by tests, runs before a batch's transaction ends; an
	// error from it stops the worker there, leaving the transaction open
	// (a crash mid-transaction).
	beforeEnd func() error
}

// assignment is a change of the worker's partitions, applied by the
// processing loop in order.
type assignment struct {
	revoke  []int32
	install map[int32]*partition
}

// New makes a worker; it connects in Run.
func New(opts ...Opt) (*Worker, error) {
	c := defaultCfg()
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.validator == nil {
		sizes := make([]time.Duration, len(c.windows))
		for i, s := range c.windows {
			sizes[i] = time.Duration(s) * time.Millisecond
		}
		v, err := event.NewValidator(event.WindowSizes(sizes...))
		if err != nil {
			return nil, err
		}
		c.validator = v
	}
	w := &Worker{cfg: c, parts: make(map[int32]*partition), ready: make(chan struct{}), hotLogged: map[string]bool{}}
	w.promiseFn = w.promise
	reg := c.reg
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, w.gatherer = r, r
	} else if g, ok := reg.(prometheus.Gatherer); ok {
		w.gatherer = g
	}
	w.m = newMetrics(reg)
	w.dedupWidth = min(max(c.windows[0], 1), max(c.horizon/16, 1))
	return w, nil
}

// Gatherer is the registry the metrics are in (nil when Registerer was
// given something that is not a Gatherer).
func (w *Worker) Gatherer() prometheus.Gatherer { return w.gatherer }

// HotKeys are the keys over the hot-key share of their partition's load
// in the last report interval (about a second), hottest first per
// partition. Producers split such keys ("KEY#N"); the engine needs no
// change for that, as every total is per partition.
func (w *Worker) HotKeys() []HotKey {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]HotKey(nil), w.hotKeys...)
}

// Ready is closed once the worker's first assignment is restored.
func (w *Worker) Ready() <-chan struct{} { return w.ready }

func (w *Worker) setReady() { w.readyOnce.Do(func() { close(w.ready) }) }

// A fetch waits for fetchMinBytes of committed events, at most
// fetchMaxWait: at a moderate rate the broker would otherwise answer a
// fetch per produce request, a few records each, and every answer costs
// the broker, the client and the worker's poll loop the same whatever it
// holds. At 50k events/s (steady-50k) the engine's CPU per event fell by
// ~18% and the broker's by ~27%, for ~15 ms more freshness p99 (README,
// Performance); under load the bytes are there at once and nothing waits.
const (
	fetchMinBytes = 64 << 10
	fetchMaxWait  = 20 * time.Millisecond
)

func (w *Worker) clientOpts() ([]kgo.Opt, error) {
	opts, err := w.cfg.conn.Opts()
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.ConsumerGroup(w.cfg.group),
		kgo.ConsumeTopics(w.cfg.topics.Events),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.DisableAutoCommit(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.OnPartitionsAssigned(w.onAssigned),
		kgo.OnPartitionsRevoked(w.onRevoked),
		kgo.OnPartitionsLost(w.onRevoked),
		kgo.OnOffsetsFetched(w.onFetched),
		kgo.ProducerLinger(0),
		// Topics this worker creates (the changelog) must be seen soon.
		kgo.MetadataMinAge(250*time.Millisecond),
		kgo.MaxBufferedRecords(1<<20),
		kgo.FetchMinBytes(fetchMinBytes), kgo.FetchMaxWait(fetchMaxWait),
		kgo.WithPools(&w.fpool),
	)
	if w.cfg.instanceID != "" {
		opts = append(opts, kgo.InstanceID(w.cfg.instanceID))
	}
	if w.cfg.sessionTO > 0 {
		opts = append(opts, kgo.SessionTimeout(w.cfg.sessionTO))
	}
	if !w.cfg.atLeastOnce {
		opts = append(opts, kgo.TransactionalID(w.cfg.txnID), kgo.TransactionTimeout(10*time.Second))
	}
	return append(opts, w.cfg.clientOpts...), nil
}

// Run consumes, aggregates and produces until ctx is done (then it commits
// the open batch and leaves the group) or a non-retryable error occurs.
// Call it once per Worker.
func (w *Worker) Run(ctx context.Context) error {
	opts, err := w.clientOpts()
	if err != nil {
		return err
	}
	// Create the changelog topic before joining the group: the restore
	// that runs on the first assignment reads it.
	if err := w.ensureChangelogOnce(ctx); err != nil {
		return err
	}
	if w.cfg.atLeastOnce {
		w.cl, err = kgo.NewClient(opts...)
	} else {
		w.sess, err = kgo.NewGroupTransactSession(opts...)
		if err == nil {
			w.cl = w.sess.Client()
		}
	}
	if err != nil {
		return fmt.Errorf("aggregate: %w", err)
	}
	defer w.close()
	if w.sess != nil {
		// Initialize the producer id now: with a predecessor's
		// transactional id this aborts its open transaction at once,
		// which the restore would otherwise wait for until the
		// transaction timeout.
		if _, _, err := w.cl.ProducerID(ctx); err != nil {
			return fmt.Errorf("aggregate: init producer id: %w", err)
		}
	}
	w.cfg.log.Info("engine worker starting", "group", w.cfg.group, "txn_id", w.cfg.txnID,
		"exactly_once", !w.cfg.atLeastOnce, "events", w.cfg.topics.Events, "brokers", w.cfg.conn.String())
	w.lastReport = time.Now()
	last := time.Now() // the last commit ended: the batch opened
	// Transactions end under their own deadline, not the run context: a
	// stop request must not cut an EndTxn in half.
	endCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	}
	stopped := func(err error) error {
		if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			w.cfg.log.Info("engine worker stopped", "while", err)
			return nil
		}
		return err
	}
	for {
		ectx, cancel := endCtx()
		_, err := w.applyPending(ectx)
		cancel()
		if err != nil {
			return stopped(err)
		}
		if ctx.Err() != nil {
			return w.shutdown()
		}
		pctx, cancel := context.WithDeadline(ctx, last.Add(w.interval()))
		fs := w.cl.PollRecords(pctx, w.cfg.maxPollRecords)
		cancel()
		if fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				w.cfg.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		ectx, cancel = endCtx()
		// Records polled before an abort rewound the client are
		// dropped: the client delivers them again, in order.
		var aborted bool
		aborted, err = w.applyPending(ectx)
		if aborted {
			fs.EachRecord(func(r *kgo.Record) { r.Recycle() }) // dropped unprocessed: nothing refers to them
		}
		if err == nil && !aborted {
			w.hold(fs)
			err = w.process(ctx, fs)
			if errors.Is(err, errNoState) {
				w.cfg.log.Error("records of a partition without restored state; aborting the batch", "err", err)
				err = w.abort(ectx)
			}
		}
		if err == nil && !time.Now().Before(last.Add(w.interval())) {
			err = w.commit(ectx)
			last = time.Now()
		}
		cancel()
		if err != nil {
			return stopped(err)
		}
	}
}

// shutdown commits the open batch on a graceful stop.
func (w *Worker) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.commit(ctx); err != nil {
		return err
	}
	w.cfg.log.Info("engine worker stopped")
	return nil
}

func (w *Worker) close() {
	if w.sess != nil {
		w.sess.Close()
	} else if w.cl != nil {
		w.cl.Close()
	}
}

func (w *Worker) onAssigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	if len(m[w.cfg.topics.Events]) == 0 {
		w.setReady() // nothing to restore
	}
}

func (w *Worker) onRevoked(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	ps := m[w.cfg.topics.Events]
	if len(ps) == 0 {
		return
	}
	w.mu.Lock()
	w.pending = append(w.pending, assignment{revoke: ps})
	w.mu.Unlock()
}

// onFetched runs after the group's committed offsets for newly assigned
// partitions were fetched (stable: no transaction pending on them) and
// before fetching begins: the state is restored here, so it is in place
// before the first record of a partition is polled.
func (w *Worker) onFetched(ctx context.Context, cl *kgo.Client, resp *kmsg.OffsetFetchResponse) error {
	var ps []int32
	collect := func(topic string, parts []int32) {
		if topic == w.cfg.topics.Events {
			ps = append(ps, parts...)
		}
	}
	// v8+ answers per group, older versions per topic.
	if len(resp.Groups) == 0 {
		for _, t := range resp.Topics {
			parts := make([]int32, 0, len(t.Partitions))
			for _, p := range t.Partitions {
				parts = append(parts, p.Partition)
			}
			collect(t.Topic, parts)
		}
	}
	for _, g := range resp.Groups {
		for _, t := range g.Topics {
			parts := make([]int32, 0, len(t.Partitions))
			for _, p := range t.Partitions {
				parts = append(parts, p.Partition)
			}
			collect(t.Topic, parts)
		}
	}
	st, err := w.restore(ctx, kadm.NewClient(cl), ps)
	if err != nil {
		w.cfg.log.Error("restore failed; rejoining", "partitions", ps, "err", err)
		return err
	}
	w.mu.Lock()
	w.pending = append(w.pending, assignment{install: st})
	w.mu.Unlock()
	w.setReady()
	return nil
}

// applyPending applies the assignment changes the group callbacks queued.
// A change while a batch is open aborts the batch first (the session
// aborts it anyway after a revoke; undoing it now keeps memory equal to
// the committed state).
func (w *Worker) applyPending(ctx context.Context) (aborted bool, err error) {
	w.mu.Lock()
	pend := w.pending
	w.pending = nil
	w.mu.Unlock()
	for _, a := range pend {
		if w.batchOpen() {
			aborted = true
			if err := w.abort(ctx); err != nil {
				return aborted, err
			}
		}
		for _, p := range a.revoke {
			if _, ok := w.parts[p]; ok {
				delete(w.parts, p)
				w.m.dropPartition(p)
				w.cfg.log.Info("partition revoked", "partition", p)
			}
		}
		for p, st := range a.install {
			st.m = w.m.forPartition(p)
			w.parts[p] = st
		}
	}
	return aborted, nil
}

func (w *Worker) batchOpen() bool {
	if w.txnOpen {
		return true
	}
	for _, p := range w.parts {
		if p.changed || len(p.dirty) > 0 {
			return true
		}
	}
	return false
}

// produce sends r in the open transaction; a failure aborts the batch.
// It is produced with a background context: a canceled run context must
// not fail records of a batch the shutdown still commits.
func (w *Worker) produce(_ context.Context, r *kgo.Record) {
	w.cl.Produce(context.Background(), r, w.promiseFn)
}

func (w *Worker) promise(_ *kgo.Record, err error) {
	if err != nil {
		w.prodMu.Lock()
		if w.prodErr == nil {
			w.prodErr = err
		}
		w.prodMu.Unlock()
	}
}

func (w *Worker) takeProduceErr() error {
	w.prodMu.Lock()
	defer w.prodMu.Unlock()
	err := w.prodErr
	w.prodErr = nil
	return err
}

// process handles one poll's records: each partition's in log order,
// partitions side by side (parallel.go).
func (w *Worker) process(ctx context.Context, fs kgo.Fetches) error {
	w.pace.lagAge = 0
	if fs.Empty() {
		return nil
	}
	if err := w.begin(); err != nil {
		return err
	}
	now := time.Now()
	var err error
	jobs := w.jobs[:0]
	fs.EachPartition(func(ft kgo.FetchTopicPartition) {
		if err != nil || ft.Topic != w.cfg.topics.Events || len(ft.Records) == 0 {
			return
		}
		p := w.parts[ft.Partition]
		if p == nil {
			// Cannot happen: restore runs before fetching starts and
			// revoked partitions' records are never polled after
			// the revoke. Never count them against an empty state.
			err = fmt.Errorf("%w: partition %d", errNoState, ft.Partition)
			return
		}
		jobs = append(jobs, partJob{p: p, ft: ft})
	})
	w.jobs = jobs[:0]
	if err != nil {
		return err
	}
	w.runJobs(ctx, jobs)
	for i := range jobs {
		p, ft := jobs[i].p, &jobs[i].ft
		p.wm.lastRecord = now
		p.changed = true
		last := ft.Records[len(ft.Records)-1].Offset
		p.m.lag.Set(float64(max(ft.HighWatermark-last-1, 0)))
		p.events += int64(len(ft.Records))
		w.pace.observe(ft, now)
		if len(p.dedup.added) >= maxBatchIDs {
			w.pace.full = true
		}
		if !w.cfg.atLeastOnce && len(p.dedup.unlogged()) >= changelogChunkIDs {
			w.produceChangelog(ctx, &w.out, p, false) // commit.go
		}
		w.counts.addFrom(&p.scr.counts)
		jobs[i] = partJob{}
	}
	w.m.add(&w.counts)
	return err
}

func (w *Worker) begin() error {
	if w.sess == nil || w.txnOpen {
		return nil
	}
	if err := w.sess.Begin(); err != nil {
		return fmt.Errorf("aggregate: begin transaction: %w", err)
	}
	w.txnOpen = true
	return nil
}
