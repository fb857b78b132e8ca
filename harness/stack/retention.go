package stack

import (
	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/harness"
)

// Retention is the stack's retention config (engine/rollup; a scenario's
// engine.retention): the sink stores each granularity in its retention
// policy and enforces the retentions below InfluxDB's minimum, and the
// query service plans ranges over the granularities. Its events is the
// events topic's retention, the same one as TopicRetention's events (give
// it in either; two different ones are refused): the topics are created
// with it and the embedded broker enforces it, and a reconcile recounts
// only the windows whose events are still there. Nil (the default): every
// total kept forever in the one bucket. Every granularity must be one of
// Windows.
func Retention(r *rollup.Config) Opt { return func(c *cfg) { c.retention = r } }

// Retention is the stack's retention config (nil: none), its events
// the events topic's retention.
func (s *Stack) Retention() *rollup.Config { return s.cfg.retention }

// resolveEventsRetention makes the events topic's retention one number:
// the retention config's events and TopicRetention's events, whichever
// is given (both: they must agree), in both.
func (c *cfg) resolveEventsRetention() error {
	if c.retention == nil {
		return nil
	}
	re, te := c.retention.Events, c.topicRetention.Events
	switch {
	case re > 0 && te > 0 && re != te:
		return harness.Configf("stack: the events topic's retention is given twice, %s (retention config events) and %s (topic retention events): give it once", re, te)
	case re > 0:
		c.topicRetention.Events = re
	case te > 0:
		r := *c.retention
		r.Events = te
		c.retention = &r
	}
	return nil
}

func (c *cfg) sinkOpts() []sink.Opt {
	if c.retention == nil {
		return nil
	}
	return []sink.Opt{sink.Rollup(*c.retention)}
}

func (c *cfg) queryOpts() []query.Opt {
	if c.retention == nil {
		return nil
	}
	return []query.Opt{query.Rollup(*c.retention)}
}
