// Package rollup is the one place retention is configured, and the rules
// every part of the engine applies to it.
//
// Window totals are kept at several granularities: by default minute, hour
// and day totals, each one of the engine's window sizes (the aggregator
// counts every event into a window of every size, in the same Kafka
// transaction, so an hour total is exactly the sum of its minute totals and
// is replayed, restored and reconciled like them). Each granularity is
// stored in InfluxDB under its own retention policy (bucket "db/<policy>")
// and kept for its own retention; the raw events topic has a retention of
// its own. Config says all of it; nothing else configures retention.
//
// The rules, all by window start against the wall clock now:
//
//   - a total of granularity g is retained while start >= now - Retention(g)
//     (Retention 0: forever), and expired after; the sink does not write an
//     expired total (InfluxDB would refuse it as beyond its retention
//     policy) and deletes expired totals itself when the retention is
//     shorter than InfluxDB 1.8's minimum policy duration (one hour);
//   - the query service answers a range from the coarsest granularity that
//     covers it plus finer ones at the edges (Plan), and never reads an
//     expired window, so an answer does not depend on when the store
//     actually dropped it;
//   - reconcile recounts a window only while every event of it is still in
//     the events topic (Recountable), and never rewrites an expired one.
package rollup

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// MinPolicyDuration is InfluxDB 1.8's smallest retention policy duration
// (services/meta.MinRetentionPolicyDuration): a shorter retention is
// stored in a policy of this duration and enforced by the sink's deletes.
const MinPolicyDuration = time.Hour

// MaxFutureSkew is how far ahead of its record timestamp an event may be
// (the ingest contract's ts_future bound, 5 min): an event of a window
// starting at s has a record timestamp >= s - MaxFutureSkew.
const MaxFutureSkew = 5 * time.Minute

// DefaultEnforceEvery is how often the sink deletes the totals past a
// retention shorter than MinPolicyDuration.
const DefaultEnforceEvery = 5 * time.Second

// Config is the retention of every granularity and of the raw events.
type Config struct {
	// Granularities are the window sizes totals are stored and answered
	// at, finest first (e.g. 1m, 1h, 1d). Each must be one of the engine's
	// window sizes, a whole number of seconds, and divide the next one, so
	// that a coarser window is exactly a run of finer ones.
	Granularities []Granularity `yaml:"granularities" json:"granularities"`
	// Events is how long the raw events topic keeps its records (its
	// Kafka retention.ms: the same number as kafka.Retention's Events, the
	// harness's stack keeps them one); 0 (the default) keeps them
	// forever. reconcile recounts only windows whose events are all still
	// there.
	Events time.Duration `yaml:"events,omitempty" json:"events,omitempty"`
	// EnforceEvery is how often the sink deletes the totals of a
	// granularity whose retention is shorter than InfluxDB's minimum
	// policy duration (1h); 0 means DefaultEnforceEvery (5s).
	EnforceEvery time.Duration `yaml:"enforce_every,omitempty" json:"enforce_every,omitempty"`
}

// Granularity is one window size and how long its totals are kept.
type Granularity struct {
	// Window is the window size, a whole number of seconds (60s, 1h, 24h).
	Window time.Duration `yaml:"window" json:"window"`
	// Retention is how long a total is kept after its window start; 0
	// (the default) keeps it forever. It may not be shorter than a finer
	// granularity's retention (a coarser total answers what a finer one
	// no longer can).
	Retention time.Duration `yaml:"retention,omitempty" json:"retention,omitempty"`
	// Policy is the InfluxDB retention policy (on 2.x: the bucket) the
	// totals are stored in; default "countlab_<seconds>s" (countlab_60s).
	Policy string `yaml:"policy,omitempty" json:"policy,omitempty"`
}

// Default is minute totals for 7 days, hour totals for 90 days and day
// totals forever.
func Default() Config {
	return Config{Granularities: []Granularity{
		{Window: time.Minute, Retention: 7 * 24 * time.Hour},
		{Window: time.Hour, Retention: 90 * 24 * time.Hour},
		{Window: 24 * time.Hour},
	}}
}

// PolicyName is g's retention policy name: Policy, or countlab_<s>s.
func (g Granularity) PolicyName() string {
	if g.Policy != "" {
		return g.Policy
	}
	return fmt.Sprintf("countlab_%ds", int64(g.Window/time.Second))
}

// StoredDuration is the duration of g's retention policy: its retention,
// raised to InfluxDB's minimum (0: infinite).
func (g Granularity) StoredDuration() time.Duration {
	if g.Retention == 0 {
		return 0
	}
	return max(g.Retention, MinPolicyDuration)
}

// Emulated says g's retention is shorter than InfluxDB's minimum policy
// duration, so the sink deletes its expired totals itself.
func (g Granularity) Emulated() bool { return g.Retention > 0 && g.Retention < MinPolicyDuration }

// Validate checks c; the error names the field and the fix.
func (c Config) Validate() error {
	if len(c.Granularities) == 0 {
		return errors.New("granularities: none; give at least one window size (e.g. [{window: 1m, retention: 168h}, {window: 1h}])")
	}
	seen := map[string]bool{}
	for i, g := range c.Granularities {
		f := fmt.Sprintf("granularities[%d]", i)
		if g.Window < time.Second || g.Window%time.Second != 0 {
			return fmt.Errorf("%s.window: %v is not a whole number of seconds >= 1s", f, g.Window)
		}
		if g.Retention < 0 {
			return fmt.Errorf("%s.retention: %v is negative; give 0 to keep the totals forever", f, g.Retention)
		}
		if i > 0 {
			p := c.Granularities[i-1]
			if g.Window <= p.Window || g.Window%p.Window != 0 {
				return fmt.Errorf("%s.window: %v must be a multiple of the finer granularity's %v (finest first)", f, g.Window, p.Window)
			}
			if g.Retention != 0 && (p.Retention == 0 || g.Retention < p.Retention) {
				return fmt.Errorf("%s.retention: %v is shorter than the finer granularity's (%v): a coarser granularity must be kept at least as long", f, g.Retention, orForever(p.Retention))
			}
		}
		name := g.PolicyName()
		if strings.ContainsAny(name, "\"\\\n\r/") || strings.TrimSpace(name) == "" {
			return fmt.Errorf("%s.policy: %q: a policy name may not be blank or hold quotes, '\\', '/' or line breaks", f, name)
		}
		if seen[name] {
			return fmt.Errorf("%s.policy: %q is used by another granularity", f, name)
		}
		seen[name] = true
	}
	if c.Events < 0 {
		return fmt.Errorf("events: %v is negative; give 0 to keep the raw events forever", c.Events)
	}
	if c.EnforceEvery < 0 {
		return fmt.Errorf("enforce_every: %v is negative", c.EnforceEvery)
	}
	return nil
}

func orForever(d time.Duration) string {
	if d == 0 {
		return "forever"
	}
	return d.String()
}

// CheckWindows says whether every granularity is one of the engine's
// window sizes.
func (c Config) CheckWindows(windows []time.Duration) error {
	for i, g := range c.Granularities {
		if !slices.Contains(windows, g.Window) {
			return fmt.Errorf("granularities[%d].window: %v is not one of the engine's windows %v; add it to the windows", i, g.Window, windows)
		}
	}
	return nil
}

// Of returns the granularity of window size ms.
func (c Config) Of(size int64) (Granularity, bool) {
	for _, g := range c.Granularities {
		if g.Window.Milliseconds() == size {
			return g, true
		}
	}
	return Granularity{}, false
}

// Sizes are the granularities' window sizes in ms, finest first.
func (c Config) Sizes() []int64 {
	out := make([]int64, len(c.Granularities))
	for i, g := range c.Granularities {
		out[i] = g.Window.Milliseconds()
	}
	return out
}

// EnforceInterval is EnforceEvery or its default.
func (c Config) EnforceInterval() time.Duration {
	if c.EnforceEvery > 0 {
		return c.EnforceEvery
	}
	return DefaultEnforceEvery
}

// Floor is the first retained window start of granularity g at now (unix
// ms): the first multiple of its window at or after now - Retention;
// math.MinInt64 when it is kept forever.
func (g Granularity) Floor(now int64) int64 {
	if g.Retention == 0 {
		return math.MinInt64
	}
	size := g.Window.Milliseconds()
	t := now - g.Retention.Milliseconds()
	return ceilTo(t, size)
}

// Expired reports whether the total of window size ms starting at start
// is past its granularity's retention at now (unix ms). A size that is not
// a granularity never expires.
func (c Config) Expired(size, start, now int64) bool {
	g, ok := c.Of(size)
	return ok && g.Retention > 0 && start < now-g.Retention.Milliseconds()
}

// Recountable reports whether every event of a window starting at start
// is still in the events topic at now (unix ms): Kafka deletes a record
// only once it is older than the retention, and an event of the window
// has a record timestamp >= start - MaxFutureSkew.
func (c Config) Recountable(start, now int64) bool {
	return c.Events == 0 || start-MaxFutureSkew.Milliseconds() >= now-c.Events.Milliseconds()
}

// floorDiv is a/b rounded toward minus infinity (b > 0).
func floorTo(a, b int64) int64 {
	r := a % b
	if r < 0 {
		r += b
	}
	return a - r
}

func ceilTo(a, b int64) int64 {
	f := floorTo(a, b)
	if f < a {
		f += b
	}
	return f
}
