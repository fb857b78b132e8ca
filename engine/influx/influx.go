// Package influx holds how countlab talks to InfluxDB: where it is (URL,
// org, bucket, token) and the schema window totals are stored under, shared
// by the sink that writes them and the query service that reads them.
//
// Schema: one point per window total.
//
//	measurement  Measurement ("window_total")
//	tags         key, type, win (window size, "60s"), dims (canonical
//	             dimension set; absent when the event had none), sub (hot-key
//	             sub-key index; absent when 0), and one tag DimTagPrefix+name
//	             per dimension ("d_country"), so filters are tag filters
//	fields       count (integer), sum, min, max (float)
//	timestamp    window start
//
// A point with the same measurement, tag set and timestamp overwrites the
// previous one: writing a total again is idempotent.
package influx

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Schema names.
const (
	Measurement  = "window_total"
	TagKey       = "key"
	TagType      = "type"
	TagWindow    = "win"
	TagDims      = "dims"
	TagSub       = "sub"
	DimTagPrefix = "d_"
	FieldCount   = "count"
	FieldSum     = "sum"
	FieldMin     = "min"
	FieldMax     = "max"
)

// Config says where InfluxDB is.
type Config struct {
	// URL is the server's base URL, http://127.0.0.1:8086.
	URL string
	// Org is the organization (ignored by InfluxDB 1.8; required by 2.x).
	Org string
	// Bucket is the bucket; on InfluxDB 1.8 "db/rp".
	Bucket string
	// Token authenticates; from COUNTLAB_INFLUX_TOKEN or
	// COUNTLAB_INFLUX_TOKEN_FILE, never a flag, never logged.
	Token string
	// Buckets, when set, is the bucket of each window size (its
	// granularity's retention policy, "db/<policy>" on 1.8; see
	// PolicyBuckets); sizes not in it are in Bucket. A pointer, so that
	// Config stays comparable.
	Buckets *SizeBuckets
}

// SizeBuckets maps a window size in ms to its bucket.
type SizeBuckets map[int64]string

// BucketFor is the bucket window totals of size ms are stored in.
func (c Config) BucketFor(size int64) string {
	if c.Buckets != nil {
		if b, ok := (*c.Buckets)[size]; ok {
			return b
		}
	}
	return c.Bucket
}

// TokenFromEnv fills c.Token from COUNTLAB_INFLUX_TOKEN, or from the file
// COUNTLAB_INFLUX_TOKEN_FILE names.
func (c *Config) TokenFromEnv() error {
	if t := os.Getenv("COUNTLAB_INFLUX_TOKEN"); t != "" {
		c.Token = t
		return nil
	}
	if f := os.Getenv("COUNTLAB_INFLUX_TOKEN_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("COUNTLAB_INFLUX_TOKEN_FILE: %w", err)
		}
		c.Token = strings.TrimSpace(string(b))
	}
	return nil
}

// Validate checks that c names a server and a bucket.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("influx: no URL (give --influx-url, or leave it out to run a managed influxd)")
	}
	if c.Bucket == "" {
		return errors.New("influx: no bucket (give --influx-bucket; on InfluxDB 1.8 it is db/rp)")
	}
	return nil
}

// String describes c without its token.
func (c Config) String() string {
	return fmt.Sprintf("%s org=%q bucket=%q", c.URL, c.Org, c.Bucket)
}
