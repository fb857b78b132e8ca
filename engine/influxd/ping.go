package influxd

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	ihttp "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/countlab/countlab/engine/influx"
)

// Ping checks that the InfluxDB cfg names is reachable and that its bucket
// can be queried with its token: GET /ping, then a Flux query over the
// first second of 1970 in cfg.Bucket (cheap: it reads no data). It works
// against the managed 1.8 server and any external 2.x server alike; with a
// write-only token on 2.x the query part fails. ctx bounds it. The token
// never appears in the error.
func Ping(ctx context.Context, cfg influx.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	c := influxdb2.NewClient(cfg.URL, cfg.Credential())
	defer c.Close()
	if _, err := c.Ping(ctx); err != nil {
		return fmt.Errorf("influx: ping %s: %w", cfg, err)
	}
	q := fmt.Sprintf(`from(bucket: %q) |> range(start: 1970-01-01T00:00:00Z, stop: 1970-01-01T00:00:01Z) |> limit(n: 1)`, cfg.Bucket)
	res, err := c.QueryAPI(cfg.Org).Query(ctx, q)
	if err != nil {
		return queryErr(cfg, err)
	}
	defer res.Close()
	for res.Next() {
	}
	if err := res.Err(); err != nil {
		return queryErr(cfg, err)
	}
	return nil
}

// ErrUnauthorized is wrapped by Ping's error when InfluxDB refused the
// credentials (HTTP 401 or 403): a configuration error, unlike a server
// that does not answer.
var ErrUnauthorized = errors.New("InfluxDB refused the credentials")

// queryErr is Ping's error for a failed query of cfg's bucket: with what to
// check, and ErrUnauthorized, when InfluxDB refused the credentials.
func queryErr(cfg influx.Config, err error) error {
	var he *ihttp.Error
	if !errors.As(err, &he) || (he.StatusCode != http.StatusUnauthorized && he.StatusCode != http.StatusForbidden) {
		return fmt.Errorf("influx: query bucket %s: %w", cfg, err)
	}
	return fmt.Errorf("influx: query bucket %s: %w (%w: give a 2.x token in %s[_FILE] or --influx-token-file, or a 1.x --influx-user with its password in %s[_FILE] or --influx-password-file)",
		cfg, err, ErrUnauthorized, influx.EnvToken, influx.EnvPassword)
}
