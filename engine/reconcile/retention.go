package reconcile

import (
	"context"
	"log/slog"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/total"
)

// With Config.Rollup (the retention config, engine/rollup), every
// granularity is compared with and repaired in its own bucket
// (influx.PolicyBuckets), so one run repairs the minute, hour and day
// totals of the windows it recounts. A window is left out, counted in
// Result.WindowsSkippedExpired, when it is past its granularity's
// retention (the store no longer keeps it; a coarser total does) or when
// the events topic may have dropped some of its events
// (rollup.Config.Recountable: a recount would be short).

// buckets is cfg.Influx with the per-granularity buckets.
func (c *Config) buckets() influx.Config {
	if c.Rollup == nil {
		return c.Influx
	}
	return influx.PolicyBuckets(c.Influx, *c.Rollup)
}

// skipRetained reports whether a window (any of its totals) is left out
// by the retention rules at now.
func (c *Config) skipRetained(now int64, ts ...*total.Total) bool {
	if c.Rollup == nil {
		return false
	}
	for _, t := range ts {
		if t != nil {
			return c.Rollup.Expired(t.Size, t.Start, now) || !c.Rollup.Recountable(t.Start, now)
		}
	}
	return false
}

// storedAll is Stored over every bucket the sizes are in.
func storedAll(ctx context.Context, ic influxdb2.Client, cfg *Config, sizes []int64) (map[string]*total.Total, error) {
	ib := cfg.buckets()
	by := map[string][]int64{}
	for _, s := range sizes {
		b := ib.BucketFor(s)
		by[b] = append(by[b], s)
	}
	out := map[string]*total.Total{}
	for b, ss := range by {
		m, err := Stored(ctx, ic.QueryAPI(ib.Org), b, cfg.From, cfg.To, ss)
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

// rewriteAll is rewrite of each total into its granularity's bucket.
func rewriteAll(ctx context.Context, ic influxdb2.Client, cfg *Config, fix []total.Total, log *slog.Logger) error {
	ib := cfg.buckets()
	by := map[string][]total.Total{}
	for _, t := range fix {
		b := ib.BucketFor(t.Size)
		by[b] = append(by[b], t)
	}
	for b, ts := range by {
		if err := rewrite(ctx, ic.WriteAPIBlocking(ib.Org, b), ts, cfg.Timeout, log); err != nil {
			return err
		}
	}
	return nil
}

// nowMs is the wall clock the retention rules are applied at.
func nowMs() int64 { return time.Now().UnixMilli() }
