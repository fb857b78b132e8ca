package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/kafka"
)

// Follower keeps a Store up to date with the metadata topic: it reads
// every partition (no consumer group, committed transactions only) from
// the offsets the store holds, or from the start, and applies each fetch
// to the store in one transaction. It is what the aggregator's Enricher
// is: CatchUp and Attrs.
type Follower struct {
	cfg   followerCfg
	st    *Store
	cl    *kgo.Client
	adm   *kadm.Client
	m     *followerMetrics
	ready chan struct{}

	mu   sync.Mutex
	cond *sync.Cond
	pos  map[int32]int64 // next offset per partition, applied to the store
	err  error           // the run loop's fatal error

	// closedBefore is the largest window end the aggregator has closed:
	// a version taking effect before it arrived late for some window.
	closedBefore atomic.Int64
}

// FollowerOpt configures a Follower.
type FollowerOpt interface{ apply(*followerCfg) }

type followerOptFn func(*followerCfg)

func (f followerOptFn) apply(c *followerCfg) { f(c) }

type followerCfg struct {
	conn       kafka.Conn
	clientOpts []kgo.Opt
	topic      string
	path       string
	log        *slog.Logger
	reg        prometheus.Registerer
}

// FollowConn is how to reach Kafka (required).
func FollowConn(c kafka.Conn) FollowerOpt { return followerOptFn(func(f *followerCfg) { f.conn = c }) }

// FollowClientOpts are extra franz-go options (e.g. a logger).
func FollowClientOpts(o ...kgo.Opt) FollowerOpt {
	return followerOptFn(func(f *followerCfg) { f.clientOpts = append(f.clientOpts, o...) })
}

// FollowTopic is the metadata topic (default DefaultTopic).
func FollowTopic(t string) FollowerOpt { return followerOptFn(func(f *followerCfg) { f.topic = t }) }

// StorePath is the store's file (required): one per worker process.
func StorePath(p string) FollowerOpt { return followerOptFn(func(f *followerCfg) { f.path = p }) }

// FollowLogger is the logger (default slog.Default()).
func FollowLogger(l *slog.Logger) FollowerOpt {
	return followerOptFn(func(f *followerCfg) { f.log = l })
}

// FollowRegisterer registers the follower's metrics (default: none kept).
func FollowRegisterer(r prometheus.Registerer) FollowerOpt {
	return followerOptFn(func(f *followerCfg) { f.reg = r })
}

func (c *followerCfg) validate() error {
	switch {
	case len(c.conn.Brokers) == 0:
		return errors.New("enrich: follower: no brokers (use FollowConn)")
	case c.topic == "":
		return errors.New("enrich: follower: empty metadata topic")
	case c.path == "":
		return errors.New("enrich: follower: no store path (use StorePath)")
	}
	return nil
}

// NewFollower opens the store and connects; Run starts following.
func NewFollower(opts ...FollowerOpt) (*Follower, error) {
	c := followerCfg{topic: DefaultTopic, log: slog.Default()}
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	st, rebuilt, err := OpenStore(c.path)
	if err != nil {
		return nil, err
	}
	kopts, err := c.conn.Opts()
	if err != nil {
		st.Close()
		return nil, err
	}
	kopts = append(kopts,
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond),
	)
	cl, err := kgo.NewClient(append(kopts, c.clientOpts...)...)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("enrich: follower: %w", err)
	}
	f := &Follower{cfg: c, st: st, cl: cl, adm: kadm.NewClient(cl), m: newFollowerMetrics(c.reg), ready: make(chan struct{}), pos: map[int32]int64{}}
	f.cond = sync.NewCond(&f.mu)
	f.closedBefore.Store(-1 << 63)
	c.log.Info("enrich: metadata store opened", "path", c.path, "new", rebuilt, "topic", c.topic)
	return f, nil
}

// Store is the follower's store.
func (f *Follower) Store() *Store { return f.st }

// Close closes the client and the store; Run must have returned.
func (f *Follower) Close() error {
	f.cl.Close()
	return f.st.Close()
}

// Run follows the topic until ctx is done. It returns ctx's error, or the
// store's error that stopped it (CatchUp then fails too).
func (f *Follower) Run(ctx context.Context) error {
	err := f.run(ctx)
	f.mu.Lock()
	if f.err == nil {
		f.err = err
		if err == nil {
			f.err = context.Canceled
		}
	}
	f.cond.Broadcast()
	f.mu.Unlock()
	return err
}

func (f *Follower) run(ctx context.Context) error {
	stored, err := f.st.Offsets()
	if err != nil {
		return err
	}
	var ends kadm.ListedOffsets
	for {
		ends, err = f.adm.ListEndOffsets(ctx, f.cfg.topic)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			break
		}
		if !sleepCtx(ctx, 200*time.Millisecond) {
			return ctx.Err()
		}
	}
	start := map[int32]kgo.Offset{}
	f.mu.Lock()
	ends.Each(func(o kadm.ListedOffset) {
		if n, ok := stored[o.Partition]; ok {
			start[o.Partition] = kgo.NewOffset().At(n)
			f.pos[o.Partition] = n
		} else {
			start[o.Partition] = kgo.NewOffset().AtStart()
			f.pos[o.Partition] = 0
		}
	})
	f.mu.Unlock()
	f.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{f.cfg.topic: start})
	close(f.ready)
	var recs []Record
	for {
		fs := f.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return ctx.Err()
		}
		next := map[int32]int64{}
		recs = recs[:0]
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				f.cfg.log.Warn("enrich: metadata fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if r.Attrs.IsControl() {
				return
			}
			var rec Record
			var err error
			if r.Value == nil {
				rec, err = DeletionOf(r.Key) // a tombstone
			} else {
				rec, err = ParseRecord(r.Value)
			}
			if err != nil {
				f.m.invalid.Inc()
				f.cfg.log.Warn("enrich: metadata record refused (not applied)", "partition", r.Partition, "offset", r.Offset, "err", err)
				return
			}
			if rec.TS < f.closedBefore.Load() {
				f.m.late.Inc()
				f.cfg.log.Warn("enrich: metadata version arrived after a window it covers closed; that window keeps its attribution",
					"entity", rec.Entity, "ts", rec.TS, "closed_before", f.closedBefore.Load())
			}
			recs = append(recs, rec)
		})
		if len(next) == 0 {
			continue
		}
		if err := f.st.Apply(recs, next); err != nil {
			return fmt.Errorf("enrich: store apply: %w", err)
		}
		f.m.applied.Add(float64(len(recs)))
		f.mu.Lock()
		for p, o := range next {
			f.pos[p] = o
		}
		f.cond.Broadcast()
		f.mu.Unlock()
	}
}

// CatchUp returns once every record committed on the metadata topic when
// it was called is applied to the store (or ctx is done, or the follower
// stopped).
func (f *Follower) CatchUp(ctx context.Context) error {
	select {
	case <-f.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	start := time.Now()
	lso, err := f.adm.ListCommittedOffsets(ctx, f.cfg.topic)
	if err == nil {
		err = lso.Error()
	}
	if err != nil {
		return fmt.Errorf("enrich: list metadata offsets: %w", err)
	}
	stop := context.AfterFunc(ctx, func() {
		f.mu.Lock()
		f.cond.Broadcast()
		f.mu.Unlock()
	})
	defer stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		if f.err != nil {
			return fmt.Errorf("enrich: follower stopped: %w", f.err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		behind := false
		lso.Each(func(o kadm.ListedOffset) {
			// Partitions added after the start are not followed.
			if n, ok := f.pos[o.Partition]; ok && n < o.Offset {
				behind = true
			}
		})
		if !behind {
			f.m.catchUp.Observe(time.Since(start).Seconds())
			return nil
		}
		f.cond.Wait()
	}
}

// Attrs returns, for each of names, the value of the attribute of entity's
// last version effective before `before` (unix ms), Unknown when there is
// no such version or it lacks the attribute.
func (f *Follower) Attrs(entity string, before int64, names []string) ([]string, error) {
	r, ok, err := f.st.Lookup(entity, before)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = Unknown
		if ok {
			out[i] = r.Get(n)
		}
	}
	f.m.lookups.Inc()
	return out, nil
}

// Spans returns the values of attributes names of entity over the event
// times [from, to), split at its versions (Store.Spans): what the
// aggregator splits a closing window's events by.
func (f *Follower) Spans(entity string, from, to int64, names []string) ([]Span, error) {
	f.m.lookups.Inc()
	return f.st.Spans(entity, from, to, names)
}

// Closed tells the follower the aggregator closed windows ending at or
// before end: versions arriving later that take effect before end are
// counted late.
func (f *Follower) Closed(end int64) {
	for {
		old := f.closedBefore.Load()
		if end <= old || f.closedBefore.CompareAndSwap(old, end) {
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type followerMetrics struct {
	applied, invalid, late, lookups prometheus.Counter
	catchUp                         prometheus.Histogram
}

func newFollowerMetrics(reg prometheus.Registerer) *followerMetrics {
	m := &followerMetrics{
		applied: prometheus.NewCounter(prometheus.CounterOpts{Name: "countlab_engine_metadata_applied_total", Help: "Metadata versions applied to the worker's store."}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{Name: "countlab_engine_metadata_invalid_total", Help: "Metadata records refused by validation (logged, not applied)."}),
		late: prometheus.NewCounter(prometheus.CounterOpts{Name: "countlab_engine_metadata_late_total",
			Help: "Metadata versions applied after a window they may cover had closed (that window keeps its attribution; an upper bound: compared with the worker's most advanced window)."}),
		lookups: prometheus.NewCounter(prometheus.CounterOpts{Name: "countlab_engine_metadata_lookups_total", Help: "Attribute lookups in the store."}),
		catchUp: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "countlab_engine_metadata_catchup_seconds",
			Help: "Time to catch the store up with the metadata topic before windows close.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8)}),
	}
	if reg != nil {
		reg.MustRegister(m.applied, m.invalid, m.late, m.lookups, m.catchUp)
	}
	return m
}
