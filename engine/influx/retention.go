package influx

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/rollup"
)

// EnsurePolicies makes the retention policy of every granularity of r in
// the database of c.Bucket ("db/rp"), idempotently: CREATE RETENTION
// POLICY, or ALTER RETENTION POLICY when it exists with another duration,
// each with the granularity's StoredDuration (InfluxDB 1.8's minimum of
// 1h for a shorter retention, which the sink then enforces with Delete).
// It returns c with Buckets naming "db/<policy>" per window size; every
// part writing or reading totals picks its bucket with BucketFor.
//
// On InfluxDB 2.x (a bucket without "/") nothing is created: the buckets
// named by the policies must exist, with their retention set, and c is
// returned with Buckets naming them.
func EnsurePolicies(ctx context.Context, c Config, r rollup.Config) (Config, error) {
	if err := r.Validate(); err != nil {
		return c, fmt.Errorf("retention: %w", err)
	}
	c = PolicyBuckets(c, r)
	db, _, v1 := strings.Cut(c.Bucket, "/")
	if !v1 {
		return c, nil
	}
	for _, g := range r.Granularities {
		name := g.PolicyName()
		dur := "INF"
		if d := g.StoredDuration(); d > 0 {
			dur = strconv.FormatInt(d.Milliseconds(), 10) + "ms"
		}
		create := fmt.Sprintf("CREATE RETENTION POLICY %s ON %s DURATION %s REPLICATION 1", ident(name), ident(db), dur)
		err := c.InfluxQL(ctx, db, create)
		if err != nil && strings.Contains(err.Error(), "already exists") {
			err = c.InfluxQL(ctx, db, fmt.Sprintf("ALTER RETENTION POLICY %s ON %s DURATION %s", ident(name), ident(db), dur))
		}
		if err != nil {
			return c, err
		}
	}
	return c, nil
}

// PolicyBuckets is c with Buckets naming each granularity's bucket:
// "db/<policy>" on 1.8 (c.Bucket "db/rp"), "<policy>" on 2.x. It creates
// nothing (EnsurePolicies does).
func PolicyBuckets(c Config, r rollup.Config) Config {
	db, _, v1 := strings.Cut(c.Bucket, "/")
	m := make(SizeBuckets, len(r.Granularities))
	c.Buckets = &m
	for _, g := range r.Granularities {
		name := g.PolicyName()
		if v1 {
			name = db + "/" + name
		}
		m[g.Window.Milliseconds()] = name
	}
	return c
}

// DeleteExpired deletes the totals of window size ms (tag win) whose
// window start is before before, from the database of c.Bucket (InfluxQL
// DELETE applies to every retention policy of a database; the win tag
// keeps it to one granularity). It is how a retention shorter than
// InfluxDB's minimum policy duration is enforced; it is idempotent.
func DeleteExpired(ctx context.Context, c Config, size int64, before time.Time) error {
	db, _, ok := strings.Cut(c.Bucket, "/")
	if !ok {
		return fmt.Errorf("influx: delete expired totals: bucket %q is not db/rp (InfluxDB 1.8 only)", c.Bucket)
	}
	q := fmt.Sprintf("DELETE FROM %s WHERE %s = '%ds' AND time < '%s'", ident(Measurement), ident(TagWindow), size/1000,
		before.UTC().Format(time.RFC3339Nano))
	return c.InfluxQL(ctx, db, q)
}

// ident quotes an InfluxQL identifier (names are validated to hold no
// quote, backslash or line break).
func ident(s string) string { return `"` + s + `"` }

// InfluxQL runs one InfluxQL statement on the 1.8 /query endpoint (POST,
// the only way 1.8 runs DDL and DELETE), with c.Credential() as "Token
// user:password" when set. The error holds InfluxDB's message, never the
// token.
func (c Config) InfluxQL(ctx context.Context, db, q string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	form := url.Values{"q": {q}, "db": {db}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.URL, "/")+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("influx: %s: %w", q, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cred := c.Credential(); cred != "" {
		req.Header.Set("Authorization", "Token "+cred)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("influx: %s: %w", q, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var r struct {
		Error   string `json:"error"`
		Results []struct {
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("influx: %s: HTTP %d: %s", q, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if r.Error != "" {
		return fmt.Errorf("influx: %s: %s", q, r.Error)
	}
	for _, res := range r.Results {
		if res.Error != "" {
			return fmt.Errorf("influx: %s: %s", q, res.Error)
		}
	}
	return nil
}
