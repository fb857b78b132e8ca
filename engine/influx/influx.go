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
	"net/url"
	"strings"

	"github.com/countlab/countlab/engine/secret"
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

// Config says where InfluxDB is and how to log in. Flags (flags.go) fills
// one from the command line and the environment.
type Config struct {
	// URL is the server's base URL, http://127.0.0.1:8086 (--influx-url).
	URL string
	// Org is the organization (--influx-org; ignored by InfluxDB 1.8,
	// required by 2.x).
	Org string
	// Bucket is the bucket (--influx-bucket); on InfluxDB 1.8 "db/rp".
	Bucket string
	// Token is an InfluxDB 2.x API token, from COUNTLAB_INFLUX_TOKEN,
	// COUNTLAB_INFLUX_TOKEN_FILE or --influx-token-file; never a flag's
	// value, never logged.
	Token string
	// User and Password log in to an InfluxDB 1.x server with auth on
	// (--influx-user; the password from COUNTLAB_INFLUX_PASSWORD,
	// COUNTLAB_INFLUX_PASSWORD_FILE or --influx-password-file, never
	// logged). They are sent as the token "user:password", the form
	// InfluxDB 1.8 accepts in "Authorization: Token ...". Not with Token.
	User, Password string
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

// Credential is what clients send as the token: Token, or
// "User:Password", or "" without auth.
func (c Config) Credential() string {
	if c.User != "" {
		return c.User + ":" + c.Password
	}
	return c.Token
}

// TokenFromEnv fills c.Token from COUNTLAB_INFLUX_TOKEN, or from the file
// COUNTLAB_INFLUX_TOKEN_FILE names; both set is an error.
func (c *Config) TokenFromEnv() error {
	t, err := secret.FromEnv(EnvToken)
	if err != nil {
		return fmt.Errorf("influx: %w", err)
	}
	if t != "" {
		c.Token = t
	}
	return nil
}

// Validate checks that c names a server and a bucket, and at most one way
// to log in, complete.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("influx: no URL (give --influx-url, or leave it out to run a managed influxd)")
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("influx: --influx-url %q is not an http:// or https:// URL with a host, e.g. http://127.0.0.1:8086", c.URL)
	}
	if c.Bucket == "" {
		return errors.New("influx: no bucket (give --influx-bucket; on InfluxDB 1.8 it is db/rp)")
	}
	switch {
	case c.Token != "" && (c.User != "" || c.Password != ""):
		return fmt.Errorf("influx: both a token (%s) and --influx-user/a password are set: use the token for InfluxDB 2.x, the user and password for 1.x, not both", tokenSources)
	case c.User != "" && c.Password == "":
		return fmt.Errorf("influx: --influx-user %q has no password: set %s", c.User, passwordSources)
	case c.User == "" && c.Password != "":
		return fmt.Errorf("influx: an InfluxDB password is set (%s) but --influx-user is not: add --influx-user, or unset the password", passwordSources)
	case strings.Contains(c.User, ":"):
		return fmt.Errorf("influx: --influx-user %q contains ':', which the user:password token cannot carry", c.User)
	}
	return nil
}

// String describes c without its token or password.
func (c Config) String() string {
	s := fmt.Sprintf("%s org=%q bucket=%q", c.URL, c.Org, c.Bucket)
	switch {
	case c.User != "":
		s += fmt.Sprintf(" user=%q", c.User)
	case c.Token != "":
		s += " token=(set)"
	}
	return s
}
