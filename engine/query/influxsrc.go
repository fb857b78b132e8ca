package query

import (
	"context"
	"errors"
	"fmt"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/total"
)

// errNoInflux answers a range older than the retention when no InfluxDB is
// configured.
var errNoInflux = errors.New("range older than the in-memory retention and no InfluxDB configured")

// influxError is a failed InfluxDB call: the server answers 503.
type influxError struct{ err error }

func (e *influxError) Error() string { return "influxdb: " + e.err.Error() }
func (e *influxError) Unwrap() error { return e.err }

// maxCachedKeys bounds the size of a cached per-key answer (the every-key
// counts of a mixed top-N can be large).
const maxCachedKeys = 10_000

// keyCount is one key's count.
type keyCount struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// influxSource reads window totals back from InfluxDB with Flux. Answers
// for ranges of closed windows are cached by their Flux text, each with
// the generation of fresh it was read under: it is served only while that
// holds.
type influxSource struct {
	client  influxdb2.Client
	api     api.QueryAPI
	bucket  string
	buckets *influx.SizeBuckets // per window size (rollup.go)
	timeout time.Duration
	totals  *lru[string, cached[total.Total]]
	counts  *lru[string, cached[[]keyCount]]
	fresh   *freshness
	m       *metrics
}

// cached is an answer and the generation of fresh it was read under.
type cached[V any] struct {
	gen uint64
	val V
}

func newInfluxSource(conf influx.Config, timeout time.Duration, cacheSize int, fresh *freshness, m *metrics) *influxSource {
	opts := influxdb2.DefaultOptions().SetHTTPRequestTimeout(uint(timeout/time.Second) + 1)
	cl := influxdb2.NewClientWithOptions(conf.URL, conf.Credential(), opts)
	return &influxSource{
		client:  cl,
		api:     cl.QueryAPI(conf.Org),
		bucket:  conf.Bucket,
		buckets: conf.Buckets,
		timeout: timeout,
		totals:  newLRU[string, cached[total.Total]](cacheSize),
		counts:  newLRU[string, cached[[]keyCount]](cacheSize),
		fresh:   fresh,
		m:       m,
	}
}

func (s *influxSource) close() { s.client.Close() }

// lookup is the cached answer to q, if it may be served; otherwise, when
// closed says the windows [from, to) of (size, typ) are closed, it says
// whether the answer about to be read may be cached, and with which
// generation.
func lookup[V any](s *influxSource, c *lru[string, cached[V]], q string, size int64, typ string, from, to int64, closed bool) (v V, hit bool, gen uint64, store bool) {
	if !closed {
		return v, false, 0, false
	}
	if e, ok := c.get(q); ok && s.fresh.valid(e.gen) {
		s.m.cacheHits.WithLabelValues("influx").Inc()
		return e.val, true, 0, false
	}
	s.m.cacheMisses.WithLabelValues("influx").Inc()
	gen, store = s.fresh.begin(tableID{size, typ}, from, to)
	return v, false, gen, store
}

// sum merges key's totals over [from, to) matching f. closed says the
// windows are closed, so the answer may be cached.
func (s *influxSource) sum(ctx context.Context, size int64, typ, key string, from, to int64, f filter, closed bool) (total.Total, error) {
	q := fluxTotals(s.bucketFor(size), size, typ, key, from, to, f)
	t, hit, gen, store := lookup(s, s.totals, q, size, typ, from, to, closed)
	if hit {
		return t, nil
	}
	var out total.Total
	err := s.run(ctx, q, func(r map[string]any) error {
		var t total.Total
		var ok bool
		if t.Count, ok = r[influx.FieldCount].(int64); !ok {
			return fmt.Errorf("field %s is %T, want an integer", influx.FieldCount, r[influx.FieldCount])
		}
		t.Sum, _ = r[influx.FieldSum].(float64)
		t.Min, _ = r[influx.FieldMin].(float64)
		t.Max, _ = r[influx.FieldMax].(float64)
		out.Merge(t)
		return nil
	})
	if err != nil {
		return out, err
	}
	if store {
		s.totals.put(q, cached[total.Total]{gen, out})
	}
	return out, nil
}

// keyCounts is every key's count over [from, to) matching f, or with
// n > 0 the n largest (ties by key ascending), in that order.
func (s *influxSource) keyCounts(ctx context.Context, size int64, typ string, from, to int64, f filter, n int, closed bool) ([]keyCount, error) {
	q := fluxKeyCounts(s.bucketFor(size), size, typ, from, to, f, n)
	kc, hit, gen, store := lookup(s, s.counts, q, size, typ, from, to, closed)
	if hit {
		return kc, nil
	}
	var out []keyCount
	err := s.run(ctx, q, func(r map[string]any) error {
		key, ok := r[influx.TagKey].(string)
		if !ok {
			return fmt.Errorf("column %s is %T, want a string", influx.TagKey, r[influx.TagKey])
		}
		n, ok := r["_value"].(int64)
		if !ok {
			return fmt.Errorf("sum is %T, want an integer", r["_value"])
		}
		out = append(out, keyCount{key, n})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if store && len(out) <= maxCachedKeys {
		s.counts.put(q, cached[[]keyCount]{gen, out})
	}
	return out, nil
}

// run runs q under the timeout and hands each row to fn.
func (s *influxSource) run(ctx context.Context, q string, fn func(map[string]any) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	start := time.Now()
	err := s.query(ctx, q, fn)
	s.m.influxSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		s.m.influxErrors.Inc()
		return &influxError{err}
	}
	return nil
}

func (s *influxSource) query(ctx context.Context, q string, fn func(map[string]any) error) error {
	res, err := s.api.Query(ctx, q)
	if err != nil {
		return err
	}
	defer res.Close()
	for res.Next() {
		if err := fn(res.Record().Values()); err != nil {
			return err
		}
	}
	return res.Err()
}
