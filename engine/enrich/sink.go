package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
)

// Sink writes the attribute totals topic into InfluxDB: a consumer group
// reading committed transactions only, each poll written (retried with
// backoff until InfluxDB acknowledges it) before its offsets are
// committed. At least once into an idempotent point: exact.
type Sink struct {
	cfg     sinkCfg
	cl      *kgo.Client
	ic      influxdb2.Client
	wapi    api.WriteAPIBlocking
	written atomic.Int64
}

// SinkOpt configures a Sink.
type SinkOpt interface{ apply(*sinkCfg) }

type sinkOptFn func(*sinkCfg)

func (f sinkOptFn) apply(c *sinkCfg) { f(c) }

type sinkCfg struct {
	conn       kafka.Conn
	clientOpts []kgo.Opt
	topic      string
	group      string
	influx     influx.Config
	log        *slog.Logger
}

// SinkConn is how to reach Kafka (required).
func SinkConn(c kafka.Conn) SinkOpt { return sinkOptFn(func(s *sinkCfg) { s.conn = c }) }

// SinkClientOpts are extra franz-go options.
func SinkClientOpts(o ...kgo.Opt) SinkOpt {
	return sinkOptFn(func(s *sinkCfg) { s.clientOpts = append(s.clientOpts, o...) })
}

// SinkTopic is the attribute totals topic (default DefaultTotalsTopic).
func SinkTopic(t string) SinkOpt { return sinkOptFn(func(s *sinkCfg) { s.topic = t }) }

// SinkGroup is the consumer group (default "countlab-attr-sink").
func SinkGroup(g string) SinkOpt { return sinkOptFn(func(s *sinkCfg) { s.group = g }) }

// SinkInflux is where to write (required: URL and bucket).
func SinkInflux(c influx.Config) SinkOpt { return sinkOptFn(func(s *sinkCfg) { s.influx = c }) }

// SinkLogger is the logger (default slog.Default()).
func SinkLogger(l *slog.Logger) SinkOpt { return sinkOptFn(func(s *sinkCfg) { s.log = l }) }

// NewSink makes a sink; Run starts it.
func NewSink(opts ...SinkOpt) (*Sink, error) {
	c := sinkCfg{topic: DefaultTotalsTopic, group: "countlab-attr-sink", log: slog.Default()}
	for _, o := range opts {
		o.apply(&c)
	}
	switch {
	case len(c.conn.Brokers) == 0:
		return nil, errors.New("enrich: sink: no brokers (use SinkConn)")
	case c.influx.URL == "" || c.influx.Bucket == "":
		return nil, errors.New("enrich: sink: InfluxDB URL and bucket required (use SinkInflux)")
	case c.topic == "" || c.group == "":
		return nil, errors.New("enrich: sink: empty topic or group")
	}
	kopts, err := c.conn.Opts()
	if err != nil {
		return nil, err
	}
	kopts = append(kopts,
		kgo.ConsumerGroup(c.group), kgo.ConsumeTopics(c.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(), kgo.FetchMaxWait(250*time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond),
	)
	cl, err := kgo.NewClient(append(kopts, c.clientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("enrich: sink: %w", err)
	}
	ic := influxdb2.NewClientWithOptions(c.influx.URL, c.influx.Token, influxdb2.DefaultOptions().SetPrecision(time.Millisecond).SetHTTPRequestTimeout(10))
	return &Sink{cfg: c, cl: cl, ic: ic, wapi: ic.WriteAPIBlocking(c.influx.Org, c.influx.Bucket)}, nil
}

// Written is the number of points InfluxDB acknowledged.
func (s *Sink) Written() int64 { return s.written.Load() }

// Close releases the clients; Run must have returned.
func (s *Sink) Close() {
	s.cl.Close()
	s.ic.Close()
}

// Run consumes and writes until ctx is done.
func (s *Sink) Run(ctx context.Context) error {
	for {
		fs := s.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		var pts []*write.Point
		var recs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			recs = append(recs, r)
			if r.Value == nil {
				return
			}
			t, err := UnmarshalAttrTotal(r.Value)
			if err != nil {
				s.cfg.log.Error("enrich: sink: attribute total not written (undecodable)", "partition", r.Partition, "offset", r.Offset, "err", err)
				return
			}
			pts = append(pts, t.Point())
		})
		if len(recs) == 0 {
			continue
		}
		for attempt := 0; len(pts) > 0; attempt++ {
			err := s.wapi.WritePoint(ctx, pts...)
			if err == nil {
				s.written.Add(int64(len(pts)))
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			s.cfg.log.Warn("enrich: sink: InfluxDB write failed; retrying", "attempt", attempt+1, "points", len(pts), "err", err)
			d := min(5*time.Second, 100*time.Millisecond<<min(attempt, 6))
			if !sleepCtx(ctx, d/2+rand.N(d/2+1)) {
				return nil
			}
		}
		if err := s.cl.CommitRecords(ctx, recs...); err != nil && ctx.Err() == nil {
			s.cfg.log.Warn("enrich: sink: offset commit failed; totals will be rewritten (idempotent)", "err", err)
		}
	}
}
