package main

import (
	"flag"
	"fmt"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/reports"
)

// The scenario's engine.retention (the rollup config) reaches each part
// through these: the sink stores each granularity in its policy, the query
// service plans over them, the events topic gets its retention, the check
// reads every policy.

func (f *stackFlags) sinkOpts() []sink.Opt {
	if f.retention == nil {
		return nil
	}
	return []sink.Opt{sink.Rollup(*f.retention)}
}

func (f *stackFlags) queryOpts() []query.Opt {
	if f.retention == nil {
		return nil
	}
	return []query.Opt{query.Rollup(*f.retention)}
}

func (f *stackFlags) topicOpts() []kafka.TopicOpt {
	if f.retention == nil || f.retention.Events == 0 {
		return nil
	}
	return []kafka.TopicOpt{kafka.EventsRetention(f.retention.Events)}
}

// readRetentionBuckets makes the store check read every granularity's
// policy too.
func readRetentionBuckets(s *reports.InfluxStore, ic influx.Config, r *rollup.Config) {
	if r == nil {
		return
	}
	for _, b := range *influx.PolicyBuckets(ic, *r).Buckets {
		s.ReadBuckets(b)
	}
}

// retentionFlag registers --retention-config FILE on fs; the returned
// function loads it (nil without the flag; a bad file is a usage error).
func retentionFlag(fs *flag.FlagSet) func() (*rollup.Config, error) {
	path := fs.String("retention-config", "", "YAML file of the retention config (granularities, their retention and policy, events retention; see README \"Roll-ups by time and retention\")")
	return func() (*rollup.Config, error) {
		if *path == "" {
			return nil, nil
		}
		c, err := rollup.Load(*path)
		if err != nil {
			return nil, usageError{fmt.Errorf("--retention-config: %w", err)}
		}
		return &c, nil
	}
}
