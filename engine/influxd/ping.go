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
		return fmt.Errorf("influx: query bucket %s: %w%s", cfg, err, authHint(err))
	}
	defer res.Close()
	for res.Next() {
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("influx: query bucket %s: %w%s", cfg, err, authHint(err))
	}
	return nil
}

// authHint is what to check when err is InfluxDB refusing the credentials
// (HTTP 401 or 403), "" otherwise.
func authHint(err error) string {
	var he *ihttp.Error
	if !errors.As(err, &he) || (he.StatusCode != http.StatusUnauthorized && he.StatusCode != http.StatusForbidden) {
		return ""
	}
	return " (InfluxDB refused the credentials: unauthorized; give a 2.x token in " + influx.EnvToken + "[_FILE] or --influx-token-file, or a 1.x --influx-user with its password in " + influx.EnvPassword + "[_FILE] or --influx-password-file)"
}
