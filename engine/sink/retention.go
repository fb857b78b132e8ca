package sink

import (
	"context"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/engine/total"
)

// Rollup stores each granularity of r in its own retention policy (bucket
// "db/<policy>", influx.PolicyBuckets), created idempotently when Run
// starts (influx.EnsurePolicies); a total of another window size goes to
// the Influx bucket. A total already past its granularity's retention is
// not written (InfluxDB refuses a point older than its policy's duration;
// it is counted in countlab_sink_totals_expired_total), and for a
// retention shorter than InfluxDB's 1h minimum the sink deletes the
// expired totals itself every r.EnforceInterval() (influx.DeleteExpired).
// Default: no roll-up config, every total in the Influx bucket.
func Rollup(r rollup.Config) Opt { return opt(func(c *cfg) { c.rollup = &r }) }

// retention is the sink's roll-up state: a write API per bucket and the
// expired-total counter.
type retention struct {
	wapis   map[string]api.WriteAPIBlocking
	expired prometheus.Counter
	deletes prometheus.Counter
	now     func() time.Time
}

// setupRetention builds s.ret (New calls it after the client exists).
func (s *Sink) setupRetention() {
	s.ret = &retention{wapis: map[string]api.WriteAPIBlocking{}, now: time.Now,
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "countlab_sink_totals_expired_total",
			Help: "Totals not written because their window was already past its granularity's retention.",
		}),
		deletes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "countlab_sink_retention_deletes_total",
			Help: "DELETEs of expired totals the sink issued for retentions shorter than InfluxDB's 1h minimum.",
		}),
	}
	if s.cfg.registerer != nil {
		s.cfg.registerer.MustRegister(s.ret.expired, s.ret.deletes)
	}
	if s.cfg.rollup == nil {
		return
	}
	s.cfg.influx = influx.PolicyBuckets(s.cfg.influx, *s.cfg.rollup)
	for _, b := range *s.cfg.influx.Buckets {
		s.ret.wapis[b] = s.ic.WriteAPIBlocking(s.cfg.influx.Org, b)
	}
}

// expired reports (and counts) a total past its retention.
func (s *Sink) expired(size, start int64) bool {
	if s.cfg.rollup == nil || !s.cfg.rollup.Expired(size, start, s.ret.now().UnixMilli()) {
		return false
	}
	s.ret.expired.Inc()
	return true
}

// stored reports whether a total is within its retention (writeAll
// writes it), without counting it.
func (s *Sink) stored(t *total.Total) bool {
	return s.cfg.rollup == nil || !s.cfg.rollup.Expired(t.Size, t.Start, s.ret.now().UnixMilli())
}

// writePoints writes pts (of items, index for index) to each one's bucket.
func (s *Sink) writePoints(ctx context.Context, items []item, pts []*write.Point) error {
	if len(s.ret.wapis) == 0 {
		return s.wapi.WritePoint(ctx, pts...)
	}
	by := map[string][]*write.Point{}
	for i := range items {
		b := s.cfg.influx.BucketFor(items[i].t.Size)
		by[b] = append(by[b], pts[i])
	}
	for b, ps := range by {
		w := s.ret.wapis[b]
		if w == nil {
			w = s.wapi
		}
		if err := w.WritePoint(ctx, ps...); err != nil {
			return err
		}
	}
	return nil
}

// ensurePolicies creates the policies, retrying until it works or ctx is
// done (InfluxDB may not be up yet: the sink starts anyway).
func (s *Sink) ensurePolicies(ctx context.Context) {
	if s.cfg.rollup == nil {
		return
	}
	for attempt := 0; ; attempt++ {
		_, err := influx.EnsurePolicies(ctx, s.cfg.influx, *s.cfg.rollup)
		if err == nil {
			return
		}
		s.log.Warn("retention policies not created yet; retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff(attempt, s.cfg.backoffBase, s.cfg.backoffMax)):
		}
	}
}

// startEnforce runs enforce until the returned stop is called.
func (s *Sink) startEnforce(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); s.enforce(ctx) }()
	return func() { cancel(); <-done }
}

// enforce deletes, every interval, the expired totals of the
// granularities whose retention is below InfluxDB's minimum, until ctx
// is done. Every sink instance may run it: a DELETE is idempotent.
func (s *Sink) enforce(ctx context.Context) {
	r := s.cfg.rollup
	if r == nil {
		return
	}
	var short []rollup.Granularity
	for _, g := range r.Granularities {
		if g.Emulated() {
			short = append(short, g)
		}
	}
	if len(short) == 0 {
		return
	}
	t := time.NewTicker(r.EnforceInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, g := range short {
			before := s.ret.now().Add(-g.Retention)
			if err := influx.DeleteExpired(ctx, s.cfg.influx, g.Window.Milliseconds(), before); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("deleting expired totals failed; retried next interval", "window", g.Window, "err", err)
				}
				continue
			}
			s.ret.deletes.Inc()
		}
	}
}
