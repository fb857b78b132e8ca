package run

import (
	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/reports"
)

// retentionStore is the store check's reader of inf: with a retention
// config it reads every granularity's policy too.
func retentionStore(inf influx.Config, r *rollup.Config) *reports.InfluxStore {
	s := reports.NewInfluxStore(inf.URL, inf.Org, inf.Bucket, inf.Credential())
	if r != nil {
		for _, b := range *influx.PolicyBuckets(inf, *r).Buckets {
			s.ReadBuckets(b)
		}
	}
	return s
}
