package main

import (
	"flag"
	"fmt"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// retentionFlag registers --retention-config FILE on fs; the returned
// function loads it (nil without the flag; a bad file is a usage error).
func retentionFlag(fs *flag.FlagSet) func() (*rollup.Config, error) {
	path := fs.String("retention-config", "", "YAML file of the retention config (granularities, their retention and policy, events retention; see the README, Roll-ups by time and retention)")
	return func() (*rollup.Config, error) {
		if *path == "" {
			return nil, nil
		}
		c, err := scenarios.LoadRetention(*path)
		if err != nil {
			return nil, usageError{Err: fmt.Errorf("--retention-config: %w", err)}
		}
		return c, nil
	}
}

// sinkRetention and queryRetention are the options of a retention config
// (none without one).
func sinkRetention(r *rollup.Config) []sink.Opt {
	if r == nil {
		return nil
	}
	return []sink.Opt{sink.Rollup(*r)}
}

func queryRetention(r *rollup.Config) []query.Opt {
	if r == nil {
		return nil
	}
	return []query.Opt{query.Rollup(*r)}
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
