package scenarios

import (
	"slices"
	"time"

	"github.com/countlab/countlab/engine/kafka"
)

// RollingCheck checks windows while the run goes on, as soon as they are
// final, and drops their truth, so that a long run's truth stays bounded
// (reports.Roller); the check after the run does the rest. Every window
// is accounted for once in report.json's accuracy (accuracy.rolling:
// checked during the run, at the end, mismatched with the worst listed).
type RollingCheck struct {
	// Enabled turns the rolling check on.
	Enabled bool `yaml:"enabled"`
	// Every is how often it looks (default 10s).
	Every time.Duration `yaml:"every,omitempty"`
	// Settle is the wait after a window's end + the engine's lateness +
	// out-of-orderness before its first look (default 5s): the engine's
	// commit and the sink's write.
	Settle time.Duration `yaml:"settle,omitempty"`
	// Margin is how long after its first look a window may still differ
	// (the pipeline is behind, a fault is healing) before it is a mid-run
	// mismatch (default 2m). A mismatched window's truth goes back to the
	// check after the run, which decides the verdict.
	Margin time.Duration `yaml:"margin,omitempty"`
	// AbortOnMismatch stops the run at the first mid-run mismatch (the
	// abort machinery's reason "rolling_check"); otherwise the run goes on.
	AbortOnMismatch bool `yaml:"abort_on_mismatch,omitempty"`
	// IdentityMargin is how far behind the generator's duplicate horizon
	// an acknowledged identity (key, id) is forgotten (default 2m): the
	// sender re-sends an unacknowledged batch within it.
	IdentityMargin time.Duration `yaml:"identity_margin,omitempty"`
}

// TopicRetention bounds the embedded broker's topics by time (kafka.Retention;
// 0 keeps everything, the default). It is also set on the topics created
// on a real cluster (--brokers).
type TopicRetention struct {
	// Events is the events topic's retention: longer than the engine may
	// lag behind; with late events (a reconcile reads the whole run back),
	// at least the duration + drain_timeout + 1m. engine.retention.events
	// may give it instead (one number: both, and different, is refused).
	Events time.Duration `yaml:"events,omitempty"`
	// Side is the late and dead-letter topics' retention.
	Side time.Duration `yaml:"side,omitempty"`
	// Changelog is the engine's dedup changelog's retention: at least
	// twice the dedup horizon (default horizon 10m: 20m).
	Changelog time.Duration `yaml:"changelog,omitempty"`
	// Aggregates is the aggregates topic's retention on top of its
	// compaction (a window's newest total older than it is deleted; 0:
	// compacted only, every window's newest total kept): at least twice
	// the largest window plus the lateness, and 10m. A restore rebuilds
	// the open windows from these totals, so a partition must not go
	// without events for longer than it.
	Aggregates time.Duration `yaml:"aggregates,omitempty"`
}

// Kafka is r as the engine's typed retention (zero without r).
func (r *TopicRetention) Kafka() kafka.Retention {
	if r == nil {
		return kafka.Retention{}
	}
	return kafka.Retention{Events: r.Events, Side: r.Side, Changelog: r.Changelog, Aggregates: r.Aggregates}
}

// validateEventsRetention checks the events topic's retention, given by
// topic_retention.events or engine.retention.events (one number: the
// stack creates the topic with it, the embedded broker enforces it and a
// reconcile recounts only the windows whose events are still there).
func (s *Scenario) validateEventsRetention(late bool, bad func(path, hint, format string, a ...any)) {
	var te, re time.Duration
	if s.TopicRetention != nil {
		te = s.TopicRetention.Events
	}
	if s.Engine.Retention != nil {
		re = s.Engine.Retention.Events
	}
	path, d := "topic_retention.events", te
	switch {
	case te > 0 && re > 0 && te != re:
		bad(path, "leaving one of them out", "the events topic has one retention, but engine.retention.events is %s and topic_retention.events %s", re, te)
		return
	case te == 0 && re > 0:
		path, d = "engine.retention.events", re
		if re < time.Minute {
			bad(path, "1m", "the embedded broker enforces the events topic's retention: give 0 (keep everything) or at least 1m (got %s)", re)
			return
		}
	}
	if need := s.Duration + s.DrainTimeout + time.Minute; late && d > 0 && d < need {
		bad(path, need.String(), "late events are recounted from the events topic after the run: keep at least duration + drain_timeout + 1m (got %s)", d)
	}
}

// rollingDefaults fills the rolling check's defaults.
func (s *Scenario) rollingDefaults() {
	rc := s.RollingCheck
	if rc == nil {
		return
	}
	for _, d := range []struct {
		p   *time.Duration
		def time.Duration
	}{{&rc.Every, 10 * time.Second}, {&rc.Settle, 5 * time.Second}, {&rc.Margin, 2 * time.Minute}, {&rc.IdentityMargin, 2 * time.Minute}} {
		if *d.p == 0 {
			*d.p = d.def
		}
	}
}

// validateLongRun checks rolling_check and topic_retention.
func (s *Scenario) validateLongRun(bad func(path, hint, format string, a ...any)) {
	late := s.Traffic.Disorder.TooLate > 0
	if rc := s.RollingCheck; rc != nil {
		for path, d := range map[string]time.Duration{"rolling_check.every": rc.Every, "rolling_check.settle": rc.Settle,
			"rolling_check.margin": rc.Margin, "rolling_check.identity_margin": rc.IdentityMargin} {
			if d < 0 {
				bad(path, "leave it out for the default", "must be > 0 (got %s)", d)
			}
		}
		if rc.Enabled && late {
			bad("rolling_check.enabled", "false, or traffic.disorder.too_late: 0",
				"late events are recounted by a reconcile after the run, which needs every window's truth")
		}
	}
	if r := s.TopicRetention; r != nil {
		if err := r.Kafka().Validate(0); err != nil {
			bad("topic_retention", "events: 10m, side: 30m, changelog: 30m", "%v", err)
		}
		if r.Aggregates > 0 && len(s.Engine.Windows) > 0 {
			need := max(2*(slices.Max(s.Engine.Windows)+s.Engine.Lateness), 10*time.Minute)
			if r.Aggregates < need {
				bad("topic_retention.aggregates", need.String(), "a restore rebuilds the open windows from their newest totals: keep at least twice the largest window plus the lateness, and 10m (got %s)", r.Aggregates)
			}
		}
	}
	s.validateEventsRetention(late, bad)
	if m := s.Engine.QueryMemory; m != 0 && len(s.Engine.Windows) > 0 {
		if need := max(2*(slices.Max(s.Engine.Windows)+s.Engine.Lateness), 5*time.Minute); m < need {
			bad("engine.query_memory", need.String(), "the query service must hold every open window and the recent ones the probes ask for: at least twice the largest window plus the lateness, and 5m (got %s)", m)
		}
	}
	if v := s.SLO.MaxHarnessRSSMiB; v < 0 {
		bad("slo.max_harness_rss_mib", "1024", "must be >= 0 (got %v)", v)
	}
}
