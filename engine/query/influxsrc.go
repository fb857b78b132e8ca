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
// for ranges of closed windows are cached.
type influxSource struct {
	client  influxdb2.Client
	api     api.QueryAPI
	bucket  string
	timeout time.Duration
	totals  *lru[string, total.Total]
	counts  *lru[string, []keyCount]
	m       *metrics
}

func newInfluxSource(conf influx.Config, timeout time.Duration, cacheSize int, m *metrics) *influxSource {
	opts := influxdb2.DefaultOptions().SetHTTPRequestTimeout(uint(timeout/time.Second) + 1)
	cl := influxdb2.NewClientWithOptions(conf.URL, conf.Token, opts)
	return &influxSource{
		client:  cl,
		api:     cl.QueryAPI(conf.Org),
		bucket:  conf.Bucket,
		timeout: timeout,
		totals:  newLRU[string, total.Total](cacheSize),
		counts:  newLRU[string, []keyCount](cacheSize),
		m:       m,
	}
}

func (s *influxSource) close() { s.client.Close() }

// sum merges key's totals over [from, to) matching f. cache says the
// windows are closed, so the answer may be cached.
func (s *influxSource) sum(ctx context.Context, size int64, typ, key string, from, to int64, f filter, cache bool) (total.Total, error) {
	q := fluxTotals(s.bucket, size, typ, key, from, to, f)
	if cache {
		if t, ok := s.totals.get(q); ok {
			s.m.cacheHits.WithLabelValues("influx").Inc()
			return t, nil
		}
		s.m.cacheMisses.WithLabelValues("influx").Inc()
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
	if cache {
		s.totals.put(q, out)
	}
	return out, nil
}

// keyCounts is every key's count over [from, to) matching f, or with
// n > 0 the n largest (ties by key ascending), in that order.
func (s *influxSource) keyCounts(ctx context.Context, size int64, typ string, from, to int64, f filter, n int, cache bool) ([]keyCount, error) {
	q := fluxKeyCounts(s.bucket, size, typ, from, to, f, n)
	if cache {
		if kc, ok := s.counts.get(q); ok {
			s.m.cacheHits.WithLabelValues("influx").Inc()
			return kc, nil
		}
		s.m.cacheMisses.WithLabelValues("influx").Inc()
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
	if cache && len(out) <= maxCachedKeys {
		s.counts.put(q, out)
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
