package sink

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	ihttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/total"
)

// item is one total to write and the record it came from (nil when it did
// not come from Kafka).
type item struct {
	t   total.Total
	rec *kgo.Record
	raw []byte // the record value when it could not be decoded
}

// rejected is an item InfluxDB (or decoding) refused for good, with why.
type rejected struct {
	item
	reason string
}

// Permanent reports whether err is a rejection that retrying cannot fix:
// InfluxDB answered 400 (bad point, field type conflict), 413 (too large)
// or 422, or the point could not be encoded. Network errors, timeouts,
// 5xx, 429 and the configuration errors 401/403/404 are transient: they
// are retried and open the circuit breaker, and never dead-letter a point.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var he *ihttp.Error
	if errors.As(err, &he) {
		switch he.StatusCode {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			return true
		}
		return false
	}
	return true // encoding error
}

// writeAll writes items in requests of at most writeBatch points. A
// request InfluxDB rejects permanently is split in halves until the bad
// points are alone (InfluxDB 1.8 writes the good points of a partial write
// anyway, and writing them again is idempotent); those come back as
// rejected. The error is the first transient failure: retry everything.
func (s *Sink) writeAll(ctx context.Context, items []item) ([]rejected, error) {
	var rej []rejected
	ok := items[:0:0]
	for _, it := range items {
		if reason := unstorable(&it.t); reason != "" {
			rej = append(rej, rejected{it, reason})
			continue
		}
		if s.expired(it.t.Size, it.t.Start) {
			continue // past its retention: InfluxDB would refuse it (retention.go)
		}
		ok = append(ok, it)
	}
	items = ok
	for len(items) > 0 {
		n := min(len(items), s.cfg.writeBatch)
		r, err := s.writeSplit(ctx, items[:n])
		rej = append(rej, r...)
		if err != nil {
			return rej, err
		}
		items = items[n:]
	}
	return rej, nil
}

// InfluxDB's time range in unix milliseconds: its timestamps are int64
// nanoseconds (models.MinNanoTime = MinInt64+2, MaxNanoTime = MaxInt64-1).
const (
	minStoredMs = (math.MinInt64 + 2) / 1_000_000 // 1677-09-21T00:12:43.146Z
	maxStoredMs = (math.MaxInt64 - 1) / 1_000_000 // 2262-04-11T23:47:16.854Z
)

// unstorable says why t cannot be written as it is, or "": a window start
// outside InfluxDB's time range would be stored at a wrapped time, and a
// sum, min or max that is not finite has no line-protocol form. Such a
// total is dead-lettered, never written wrong.
func unstorable(t *total.Total) string {
	if t.Start < minStoredMs || t.Start > maxStoredMs {
		return "window start " + strconv.FormatInt(t.Start, 10) + " ms is outside InfluxDB's time range (1677-09-21T00:12:43.146Z to 2262-04-11T23:47:16.854Z): it cannot be stored at its own time"
	}
	for _, f := range [...]float64{t.Sum, t.Min, t.Max} {
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return "sum, min or max is not a finite number (sum " + strconv.FormatFloat(t.Sum, 'g', -1, 64) + ")"
		}
	}
	return ""
}

func (s *Sink) writeSplit(ctx context.Context, items []item) ([]rejected, error) {
	err := s.writeOnce(ctx, items)
	switch {
	case err == nil:
		return nil, nil
	case !Permanent(err):
		return nil, err
	case len(items) == 1:
		return []rejected{{items[0], err.Error()}}, nil
	}
	mid := len(items) / 2
	r1, err := s.writeSplit(ctx, items[:mid])
	if err != nil {
		return r1, err
	}
	r2, err := s.writeSplit(ctx, items[mid:])
	return append(r1, r2...), err
}

// writeOnce is one InfluxDB write request, bounded by the write timeout.
func (s *Sink) writeOnce(ctx context.Context, items []item) error {
	pts := make([]*write.Point, len(items))
	for i := range items {
		pts[i] = Point(&items[i].t)
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.writeTimeout)
	defer cancel()
	start := time.Now()
	err := s.writePoints(cctx, items, pts)
	s.m.writeSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		return err
	}
	s.m.written.Add(float64(len(items)))
	s.stats.written.Add(int64(len(items)))
	return nil
}

// ping probes InfluxDB's health, bounded by the ping timeout.
func (s *Sink) ping(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.pingTimeout)
	defer cancel()
	ok, err := s.ic.Ping(cctx)
	return err == nil && ok
}
