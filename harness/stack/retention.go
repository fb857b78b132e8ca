package stack

import (
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/engine/sink"
)

// Retention is the stack's retention config (engine/rollup; a scenario's
// engine.retention): the sink stores each granularity in its retention
// policy and enforces the retentions below InfluxDB's minimum, the query
// service plans ranges over the granularities, and the events topic is
// created with its retention (an external cluster; the embedded broker
// keeps every record). Nil (the default): every total kept forever in the
// one bucket. Every granularity must be one of Windows.
func Retention(r *rollup.Config) Opt { return func(c *cfg) { c.retention = r } }

// Retention is the stack's retention config (nil: none).
func (s *Stack) Retention() *rollup.Config { return s.cfg.retention }

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

func (c *cfg) topicOpts() []kafka.TopicOpt {
	if c.retention == nil || c.retention.Events == 0 {
		return nil
	}
	return []kafka.TopicOpt{kafka.EventsRetention(c.retention.Events)}
}
