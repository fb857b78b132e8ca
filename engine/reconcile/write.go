package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/engine/total"
)

const (
	rewriteBatch   = 5000
	rewriteRetries = 5
)

// rewrite writes ts (absolute totals) in batches, each bounded by timeout
// and retried on transient failures with exponential backoff and full
// jitter. A permanent rejection is an error: reconcile has no dead-letter
// topic, and its report must not claim a repair that did not happen.
func rewrite(ctx context.Context, w api.WriteAPIBlocking, ts []total.Total, timeout time.Duration, log *slog.Logger) error {
	pts := make([]*write.Point, len(ts))
	for i := range ts {
		pts[i] = sink.Point(&ts[i])
	}
	return rewritePoints(ctx, w, pts, timeout, log)
}

// rewritePoints is rewrite of points.
func rewritePoints(ctx context.Context, w api.WriteAPIBlocking, all []*write.Point, timeout time.Duration, log *slog.Logger) error {
	for len(all) > 0 {
		n := min(len(all), rewriteBatch)
		pts := all[:n]
		for attempt := 0; ; attempt++ {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			err := w.WritePoint(cctx, pts...)
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if sink.Permanent(err) || attempt+1 >= rewriteRetries {
				return fmt.Errorf("reconcile: rewrite %d windows: %w", n, err)
			}
			log.Warn("rewrite failed; retrying", "attempt", attempt+1, "err", err)
			d := rand.N(min(5*time.Second, 200*time.Millisecond<<attempt) + 1)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		all = all[n:]
	}
	return nil
}
