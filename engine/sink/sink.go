// Package sink writes the engine's window totals from the aggregates topic
// into InfluxDB, exactly.
//
// The aggregator writes absolute totals to the aggregates topic in Kafka
// transactions. The sink reads them read_committed (aborted totals never
// land) in a consumer group, keeps the newest total of each window within a
// batch (the totals of several polls, gathered for up to Linger), writes the
// batch to InfluxDB and only then commits the consumer offsets. Delivery is
// at least once; a total written again overwrites the same point (same
// series and timestamp), so the result is exact.
//
// While InfluxDB is down, writes are retried with exponential backoff and
// full jitter; after a few consecutive failures a circuit breaker opens: the
// sink stops fetching and committing and probes InfluxDB's health until it
// answers, then writes the held batch and resumes. Nothing is lost because
// nothing uncommitted is ever skipped. Points InfluxDB rejects permanently
// (a 400 such as a field type conflict) go to the sink dead-letter topic
// with the reason, and are written again by ReplayDeadLetter, which the sink
// runs at start, after every recovery, and on demand.
package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/total"
)

// Sink moves totals from the aggregates topic into InfluxDB.
type Sink struct {
	cfg  cfg
	log  *slog.Logger
	ic   influxdb2.Client
	wapi api.WriteAPIBlocking
	ret  *retention // retention.go
	m    *metrics
	br   *breaker

	paused    bool
	recovered bool
	clean     atomic.Bool  // every polled record is in InfluxDB
	lostGen   atomic.Int64 // bumped when partitions are lost
	replayMu  sync.Mutex
	stats     counters
	// seen is the last point written per window (unchanged.go).
	seen unchanged
}

type counters struct {
	consumed, written, unchanged, retries, deadLettered, replayed, commits, opened, closed atomic.Int64
}

// Stats are the sink's counters since New.
type Stats struct {
	Consumed      int64 // totals read from Kafka
	Written       int64 // points InfluxDB acknowledged
	Unchanged     int64 // totals not written: the same point was (unchanged.go)
	Retries       int64 // writes retried
	DeadLettered  int64 // records sent to the dead-letter topic
	Replayed      int64 // dead-lettered totals written by a replay
	Commits       int64 // offset commits
	BreakerOpened int64 // times the breaker opened
	BreakerClosed int64 // times it closed again after being open
	State         State // breaker state now
}

// New builds a Sink; Run starts it.
func New(opts ...Opt) (*Sink, error) {
	c := defaultCfg()
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	s := &Sink{cfg: c, log: c.logger.With("part", "sink"), m: newMetrics(c.registerer)}
	s.br = newBreaker(c.breakerThreshold, s.breakerChanged)
	io := influxdb2.DefaultOptions().
		SetPrecision(time.Millisecond).
		SetHTTPRequestTimeout(uint(max(1, (c.writeTimeout+time.Second-1)/time.Second)))
	s.ic = influxdb2.NewClientWithOptions(c.influx.URL, c.influx.Credential(), io)
	s.wapi = s.ic.WriteAPIBlocking(c.influx.Org, c.influx.Bucket)
	s.setupRetention()
	return s, nil
}

// Close releases the InfluxDB client. Run must have returned.
func (s *Sink) Close() { s.ic.Close() }

// Stats returns the sink's counters.
func (s *Sink) Stats() Stats {
	return Stats{
		Consumed: s.stats.consumed.Load(), Written: s.stats.written.Load(), Unchanged: s.stats.unchanged.Load(),
		Retries: s.stats.retries.Load(), DeadLettered: s.stats.deadLettered.Load(),
		Replayed: s.stats.replayed.Load(), Commits: s.stats.commits.Load(),
		BreakerOpened: s.stats.opened.Load(), BreakerClosed: s.stats.closed.Load(),
		State: s.br.State(),
	}
}

func (s *Sink) breakerChanged(from, to State) {
	s.m.breakerState.Set(float64(to))
	s.m.breakerChanges.WithLabelValues(to.String()).Inc()
	switch {
	case to == Open && from != Open:
		if from == Closed {
			s.stats.opened.Add(1)
		}
		s.log.Warn("circuit breaker open: InfluxDB unavailable; fetching and committing paused", "from", from.String())
	case to == Closed:
		s.stats.closed.Add(1)
		s.recovered = true
		s.log.Info("circuit breaker closed: InfluxDB back", "from", from.String())
	}
}

// kgoOpts are the client options shared by every client of the sink.
func (s *Sink) kgoOpts() ([]kgo.Opt, error) {
	o, err := s.cfg.conn.Opts()
	if err != nil {
		return nil, err
	}
	return append(o, s.cfg.kgoOpts...), nil
}

var errLost = errors.New("sink: partitions lost mid-batch")

// Run consumes and writes until ctx is done; it returns nil then. Other
// errors are setup failures.
func (s *Sink) Run(ctx context.Context) error {
	base, err := s.kgoOpts()
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	s.clean.Store(true)
	opts := append(base,
		kgo.ConsumerGroup(s.cfg.group),
		kgo.ConsumeTopics(s.cfg.topics.Aggregates),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			s.seen.forget.Store(true)
			s.log.Info("partitions assigned", "partitions", m)
		}),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			s.seen.forget.Store(true)
			s.lostGen.Add(1)
			s.log.Warn("partitions lost; their uncommitted totals will be read again", "partitions", m)
		}),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("sink: kafka client: %w", err)
	}
	defer cl.Close()
	if err := s.ensureDeadLetterTopic(ctx, cl); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	s.ensurePolicies(ctx)
	defer s.startEnforce(ctx)()
	s.replay(ctx)
	s.log.Info("sink running", "topic", s.cfg.topics.Aggregates, "group", s.cfg.group, "influx", s.cfg.influx.String())
	for {
		if err := s.poll(ctx, cl); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if s.recovered {
			s.recovered = false
			s.replay(ctx)
		}
	}
}

// onRevoked commits before partitions move, but only offsets whose totals
// are in InfluxDB; otherwise it commits nothing and the next owner reads
// them again.
func (s *Sink) onRevoked(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	s.seen.forget.Store(true)
	if !s.clean.Load() {
		s.log.Info("partitions revoked mid-batch; uncommitted totals dropped, the next owner rewrites them", "partitions", m)
		return
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		s.log.Warn("commit on revoke failed; totals will be rewritten (idempotent)", "err", err)
	}
}

func (s *Sink) replay(ctx context.Context) {
	r, err := s.ReplayDeadLetter(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("dead-letter replay failed; will retry after the next recovery", "err", err)
		}
		return
	}
	if r.Read > 0 {
		s.log.Info("dead-letter replayed", "read", r.Read, "written", r.Written, "rejected_again", r.Rejected)
	}
}

// poll handles one batch: fetch, decode, keep the newest per window, write,
// commit. It returns only when the batch is in InfluxDB (or dead-lettered)
// and committed, or on ctx errors and a closed client.
func (s *Sink) poll(ctx context.Context, cl *kgo.Client) error {
	defer cl.AllowRebalance()
	gen := s.lostGen.Load()
	fs := cl.PollRecords(ctx, s.cfg.maxPoll)
	if fs.IsClientClosed() {
		return kgo.ErrClientClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if fs.NumRecords() > 0 {
		s.clean.Store(false)
		var err error
		if fs, err = s.gather(ctx, cl, fs); err != nil { // linger.go
			return err
		}
	}
	fs.EachError(func(t string, p int32, err error) {
		s.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
	})
	recs := fs.Records()
	if len(recs) == 0 {
		return nil
	}
	s.clean.Store(false)
	hwm := make(map[int32]int64)
	next := make(map[int32]int64)
	var newest time.Time
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		hwm[p.Partition] = p.HighWatermark
		if n := len(p.Records); n > 0 {
			next[p.Partition] = p.Records[n-1].Offset + 1
		}
	})
	items, bad := s.decode(recs)
	items, same := s.seen.drop(items) // unchanged.go
	s.stats.unchanged.Add(int64(same))
	s.m.unchanged.Add(float64(same))
	for _, r := range recs {
		if r.Timestamp.After(newest) {
			newest = r.Timestamp
		}
	}
	if err := s.deliver(ctx, cl, items, gen); err != nil {
		if errors.Is(err, errLost) {
			return nil
		}
		return err
	}
	if len(bad) > 0 {
		if err := s.deadLetter(ctx, cl, bad); err != nil {
			return err
		}
	}
	s.clean.Store(true)
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		if ctx.Err() != nil {
			return err
		}
		s.log.Warn("offset commit failed; totals will be rewritten (idempotent)", "err", err)
		return nil
	}
	s.stats.commits.Add(1)
	s.m.commits.Inc()
	s.m.commitAge.Set(time.Since(newest).Seconds())
	var lag int64
	for p, h := range hwm {
		if n, ok := next[p]; ok && h > n {
			lag += h - n
		}
	}
	s.m.commitLag.Set(float64(lag))
	return nil
}

// decode turns records into totals, keeping only the newest total per
// window (record key) in the batch; undecodable records come back as
// rejected. Tombstones (nil values) carry nothing to write.
func (s *Sink) decode(recs []*kgo.Record) ([]item, []rejected) {
	idx := make(map[string]int, len(recs))
	items := make([]item, 0, len(recs))
	var bad []rejected
	var kb []byte
	superseded := 0
	defer func() { s.m.superseded.Add(float64(superseded)) }()
	s.stats.consumed.Add(int64(len(recs)))
	s.m.consumed.Add(float64(len(recs)))
	for _, r := range recs {
		if r.Value == nil {
			continue
		}
		t, err := total.Unmarshal(r.Value)
		if err != nil {
			bad = append(bad, rejected{item{rec: r, raw: r.Value}, err.Error()})
			continue
		}
		kb = t.AppendRecordKey(kb[:0])
		if i, ok := idx[string(kb)]; ok { // no allocation for the lookup
			items[i] = item{t: t, rec: r}
			superseded++
			continue
		}
		idx[string(kb)] = len(items)
		items = append(items, item{t: t, rec: r})
	}
	return items, bad
}

// deliver writes items until InfluxDB has acknowledged all of them (or
// rejected some for good: those are dead-lettered). It returns only ctx
// errors and errLost.
func (s *Sink) deliver(ctx context.Context, cl *kgo.Client, items []item, gen int64) error {
	for attempt := 0; ; attempt++ {
		if s.br.State() == Open {
			if err := s.waitHealthy(ctx, cl); err != nil {
				return err
			}
		}
		if s.lostGen.Load() != gen {
			return errLost
		}
		rej, err := s.writeAll(ctx, items)
		if err == nil {
			s.seen.remember(items, rej, s.stored)
			s.br.success()
			s.resume(cl)
			if len(rej) > 0 {
				return s.deadLetter(ctx, cl, rej)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.seen.forget.Store(true) // InfluxDB failed: it may have restarted (unchanged.go)
		s.stats.retries.Add(1)
		s.m.retries.Inc()
		s.log.Warn("InfluxDB write failed; retrying", "attempt", attempt+1, "points", len(items), "err", err)
		if s.br.failure() {
			s.pause(cl)
			continue
		}
		if !sleep(ctx, backoff(attempt, s.cfg.backoffBase, s.cfg.backoffMax)) {
			return ctx.Err()
		}
	}
}

// waitHealthy probes InfluxDB while the breaker is open, with backoff and
// jitter between probes, and half-opens the breaker once it answers.
func (s *Sink) waitHealthy(ctx context.Context, cl *kgo.Client) error {
	s.pause(cl)
	for n := 0; ; n++ {
		if !sleep(ctx, s.cfg.probeInterval/2+backoff(n, s.cfg.probeInterval, s.cfg.backoffMax)) {
			return ctx.Err()
		}
		if s.ping(ctx) {
			s.br.probed()
			return nil
		}
	}
}

func (s *Sink) pause(cl *kgo.Client) {
	if !s.paused {
		cl.PauseFetchTopics(s.cfg.topics.Aggregates)
		s.paused = true
	}
}

func (s *Sink) resume(cl *kgo.Client) {
	if s.paused {
		cl.ResumeFetchTopics(s.cfg.topics.Aggregates)
		s.paused = false
	}
}
