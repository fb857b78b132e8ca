package countlab

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/sobek"

	"github.com/countlab/countlab/engine/query/client"
)

// QueryOptions are the options of countlab.query({...}).
type QueryOptions struct {
	// URL is the query service's base URL (http://127.0.0.1:8081).
	URL string `js:"url"`
	// Token is the bearer token (default: COUNTLAB_TOKEN).
	Token string `js:"token"`
}

// RangeOptions are the options of count, stats and top.
type RangeOptions struct {
	// Type is the event type (default "VIEW").
	Type string `js:"type"`
	// From and To bound the range: unix milliseconds, an RFC 3339 time,
	// or a duration from now ("-5m"). Unset: the server's defaults.
	From any `js:"from"`
	To   any `js:"to"`
	// Filter keeps dimension sets holding every name=value pair.
	Filter map[string]string `js:"filter"`
	// Window is the window size ("1m"); unset: the server's default.
	Window string `js:"window"`
	// Fn is the statistic of stats: count, sum, avg, min or max
	// (default sum).
	Fn string `js:"fn"`
	// N is the number of keys of top (default 10).
	N int `js:"n"`
}

// Query is a client of the query service whose requests are timed into
// countlab_query_latency{endpoint:count|stats|top}. A failed request
// returns {error, status} instead of throwing, and counts into
// countlab_query_errors.
type Query struct {
	mi *ModuleInstance
	c  *client.Client
}

func (mi *ModuleInstance) newQuery(opts sobek.Value) (*Query, error) {
	var o QueryOptions
	if err := exportOpts(mi, opts, &o); err != nil {
		return nil, fmt.Errorf("countlab.query: %w", err)
	}
	if o.Token == "" {
		o.Token = os.Getenv("COUNTLAB_TOKEN")
	}
	c, err := client.New(o.URL, client.Token(o.Token))
	if err != nil {
		return nil, fmt.Errorf("countlab.query: %w", err)
	}
	return &Query{mi: mi, c: c}, nil
}

func (q *Query) rangeOf(v sobek.Value) (client.Range, RangeOptions, error) {
	var o RangeOptions
	var r client.Range
	if err := exportOpts(q.mi, v, &o); err != nil {
		return r, o, err
	}
	r.Type = o.Type
	if r.Type == "" {
		r.Type = "VIEW"
	}
	r.Filter = o.Filter
	var err error
	now := time.Now()
	if r.From, err = timeOf(o.From, now); err != nil {
		return r, o, fmt.Errorf("from: %w", err)
	}
	if r.To, err = timeOf(o.To, now); err != nil {
		return r, o, fmt.Errorf("to: %w", err)
	}
	if o.Window != "" {
		if r.Window, err = time.ParseDuration(o.Window); err != nil {
			return r, o, fmt.Errorf("window: %w", err)
		}
	}
	return r, o, nil
}

func timeOf(v any, now time.Time) (time.Time, error) {
	switch v := v.(type) {
	case nil:
		return time.Time{}, nil
	case int64:
		return time.UnixMilli(v), nil
	case float64:
		return time.UnixMilli(int64(v)), nil
	case time.Time:
		return v, nil
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.UnixMilli(n), nil
		}
		if strings.HasPrefix(v, "-") || strings.HasPrefix(v, "+") {
			d, err := time.ParseDuration(v)
			return now.Add(d), err
		}
		return time.Parse(time.RFC3339Nano, v)
	}
	return time.Time{}, fmt.Errorf("want unix ms, an RFC 3339 time or a duration like -5m, got %T", v)
}

// Count is a key's count: {key, count, windows, from, to, source} or
// {error, status}.
func (q *Query) Count(key string, opts sobek.Value) (map[string]any, error) {
	r, _, err := q.rangeOf(opts)
	if err != nil {
		return nil, fmt.Errorf("count: %w", err)
	}
	t0 := time.Now()
	resp, err := q.c.Count(q.mi.vu.Context(), client.CountRequest{Key: key, Range: r})
	if err != nil {
		return q.failed("count", t0, err), nil
	}
	q.timed("count", t0)
	out := answered(resp.Answered)
	out["key"], out["count"], out["windows"] = resp.Key, resp.Count, resp.Windows
	return out, nil
}

// Stats is a statistic of a key's values: {key, fn, value, count,
// windows, ...} or {error, status}.
func (q *Query) Stats(key string, opts sobek.Value) (map[string]any, error) {
	r, o, err := q.rangeOf(opts)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	if o.Fn == "" {
		o.Fn = "sum"
	}
	t0 := time.Now()
	resp, err := q.c.Stats(q.mi.vu.Context(), client.StatsRequest{Key: key, Fn: o.Fn, Range: r})
	if err != nil {
		return q.failed("stats", t0, err), nil
	}
	q.timed("stats", t0)
	out := answered(resp.Answered)
	out["key"], out["fn"], out["value"], out["count"], out["windows"] = resp.Key, resp.Fn, resp.Value, resp.Count, resp.Windows
	return out, nil
}

// Top is the top keys by count: {items: [{key, count}], exact, ...} or
// {error, status}.
func (q *Query) Top(opts sobek.Value) (map[string]any, error) {
	r, o, err := q.rangeOf(opts)
	if err != nil {
		return nil, fmt.Errorf("top: %w", err)
	}
	t0 := time.Now()
	resp, err := q.c.Top(q.mi.vu.Context(), client.TopRequest{N: o.N, Range: r})
	if err != nil {
		return q.failed("top", t0, err), nil
	}
	q.timed("top", t0)
	out := answered(resp.Answered)
	items := make([]map[string]any, len(resp.Items))
	for i, it := range resp.Items {
		items[i] = map[string]any{"key": it.Key, "count": it.Count}
	}
	out["n"], out["items"], out["exact"] = resp.N, items, resp.Exact
	return out, nil
}

func answered(a client.Answered) map[string]any {
	return map[string]any{"type": a.Type, "window": a.Window, "filter": a.Filter, "from": a.From.UnixMilli(),
		"to": a.To.UnixMilli(), "aligned": a.Aligned, "source": a.Source}
}

func (q *Query) timed(endpoint string, t0 time.Time) {
	now := time.Now()
	push(q.mi.vu, "endpoint", endpoint, now, metricValue{q.mi.metrics.QueryLatency, ms(now.Sub(t0))})
}

func (q *Query) failed(endpoint string, t0 time.Time, err error) map[string]any {
	now := time.Now()
	push(q.mi.vu, "endpoint", endpoint, now, metricValue{q.mi.metrics.QueryLatency, ms(now.Sub(t0))},
		metricValue{q.mi.metrics.QueryErrors, 1})
	out := map[string]any{"error": err.Error(), "status": 0}
	if e, ok := err.(*client.Error); ok {
		out["status"] = e.Status
	}
	return out
}
