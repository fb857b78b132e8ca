package target

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim/oracle"
)

// httpJSON is a reports.Querier over an HTTP GET template: Stats asks for
// one window; Top finds nothing (the template cannot list keys).
type httpJSON struct {
	spec   *HTTPJSON
	client *http.Client
}

var _ reports.Querier = (*httpJSON)(nil)

func (h *httpJSON) url(req client.StatsRequest) string {
	r := req.Range
	size := r.Window
	esc := url.QueryEscape
	return strings.NewReplacer(
		"{key}", esc(req.Key), "{type}", esc(r.Type),
		"{start_ms}", strconv.FormatInt(r.From.UnixMilli(), 10), "{end_ms}", strconv.FormatInt(r.To.UnixMilli(), 10),
		"{start}", esc(r.From.UTC().Format(time.RFC3339Nano)), "{end}", esc(r.To.UTC().Format(time.RFC3339Nano)),
		"{window_s}", strconv.FormatFloat(size.Seconds(), 'f', -1, 64), "{window}", esc(size.String()),
	).Replace(h.spec.URL)
}

// Stats implements reports.Querier: the count and sum of the window
// req.Range names.
func (h *httpJSON) Stats(ctx context.Context, req client.StatsRequest) (client.StatsResponse, error) {
	out := client.StatsResponse{Key: req.Key, Fn: req.Fn}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url(req), nil)
	if err != nil {
		return out, err
	}
	resp, err := h.client.Do(hreq)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return out, err
	}
	if slices.Contains(h.spec.NotFound, resp.StatusCode) {
		return out, nil
	}
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("read.http_json: %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return out, fmt.Errorf("read.http_json: the answer is not JSON: %w", err)
	}
	c, err := jsonPath(doc, h.spec.Count)
	if err != nil {
		return out, fmt.Errorf("read.http_json.count: %w", err)
	}
	if out.Count, err = c.Int64(); err != nil {
		return out, fmt.Errorf("read.http_json.count: %s is not a whole number", c)
	}
	if h.spec.Sum != "" {
		s, err := jsonPath(doc, h.spec.Sum)
		if err != nil {
			return out, fmt.Errorf("read.http_json.sum: %w", err)
		}
		if out.Value, err = s.Float64(); err != nil {
			return out, fmt.Errorf("read.http_json.sum: %s is not a number", s)
		}
	}
	return out, nil
}

// Top implements reports.Querier: an HTTP template cannot list keys.
func (h *httpJSON) Top(context.Context, client.TopRequest) (client.TopResponse, error) {
	return client.TopResponse{}, nil
}

// jsonPath follows a dot-separated path (object keys, list indexes) to a
// number.
func jsonPath(doc any, path string) (json.Number, error) {
	v := doc
	for _, p := range strings.Split(path, ".") {
		switch m := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = m[p]; !ok {
				return "", fmt.Errorf("no %q in the answer (path %s)", p, path)
			}
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(m) {
				return "", fmt.Errorf("%q is not an index of a list of %d (path %s)", p, len(m), path)
			}
			v = m[i]
		default:
			return "", fmt.Errorf("%q: not an object (path %s)", p, path)
		}
	}
	n, ok := v.(json.Number)
	if !ok {
		return "", fmt.Errorf("path %s is not a number", path)
	}
	return n, nil
}

// rows sums a store's rows into windows: rows that share (size, type,
// key, start) add up (sub-keys of a split hot key, partitions).
type rows struct {
	cols    Columns
	windows []time.Duration
	from    int64
	to      int64
	sums    map[oracle.WindowKey]*oracle.Total
}

// add adds one row; get reads a column (a tag or a field) as a string, a
// json.Number or a float64/int64.
func (r *rows) add(start int64, get func(col string) any) error {
	if start < r.from || start >= r.to {
		return nil // InfluxDB 1.8's Flux range includes its stop
	}
	str := func(col string) string {
		switch v := get(col).(type) {
		case string:
			return v
		case nil:
			return ""
		default:
			return fmt.Sprint(v)
		}
	}
	k := oracle.WindowKey{Start: start, Type: str(r.cols.Type), Key: str(r.cols.Key)}
	if r.cols.Window == "" {
		k.Size = r.windows[0].Milliseconds()
	} else {
		size, err := parseSize(str(r.cols.Window))
		if err != nil {
			return fmt.Errorf("column %s: %w", r.cols.Window, err)
		}
		k.Size = size
	}
	count, cerr := number(get(r.cols.Count))
	sum, serr := number(get(r.cols.Sum))
	if cerr != nil {
		return fmt.Errorf("column %s: %w", r.cols.Count, cerr)
	}
	if serr != nil {
		return fmt.Errorf("column %s: %w", r.cols.Sum, serr)
	}
	if count != math.Trunc(count) {
		return fmt.Errorf("column %s: %v is not a whole count", r.cols.Count, count)
	}
	t := r.sums[k]
	if t == nil {
		t = &oracle.Total{}
		r.sums[k] = t
	}
	t.Count += int64(count)
	t.Sum += sum
	return nil
}

func (r *rows) windowList() []oracle.Window {
	out := make([]oracle.Window, 0, len(r.sums))
	for k, t := range r.sums {
		out = append(out, oracle.Window{WindowKey: k, Total: *t})
	}
	return out
}

// number reads a count or sum cell (nil: 0).
func number(v any) (float64, error) {
	switch n := v.(type) {
	case nil:
		return 0, nil
	case json.Number:
		return n.Float64()
	case float64:
		return n, nil
	case int64:
		return float64(n), nil
	case uint64:
		return float64(n), nil
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

// parseSize reads a window size: "10s", "10000ms" or a number of ms.
func parseSize(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return n, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d.Milliseconds(), nil
	}
	return 0, fmt.Errorf("%q is not a window size (10s, 10000ms or a number of ms)", s)
}

// fill puts the range into a query template: {from} and {to} as quote
// (InfluxQL: single-quoted RFC 3339; Flux: a bare time literal).
func fill(tmpl string, from, to int64, quote string) string {
	f := func(ms int64) string { return quote + time.UnixMilli(ms).UTC().Format(time.RFC3339Nano) + quote }
	return strings.NewReplacer("{from}", f(from), "{to}", f(to)).Replace(tmpl)
}

// influxQLStore is a reports.Store over an InfluxQL template.
type influxQLStore struct {
	spec    *InfluxQL
	windows []time.Duration
	client  *http.Client
}

// influxQLAnswer is InfluxDB 1.x's /query answer.
type influxQLAnswer struct {
	Results []struct {
		Series []struct {
			Tags    map[string]string `json:"tags"`
			Columns []string          `json:"columns"`
			Values  [][]any           `json:"values"`
		} `json:"series"`
		Error string `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

// Windows implements reports.Store.
func (s *influxQLStore) Windows(ctx context.Context, from, to int64) ([]oracle.Window, error) {
	v := url.Values{"db": {s.spec.Database}, "q": {fill(s.spec.Query, from, to, "'")}, "epoch": {"ms"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(s.spec.URL, "/")+"/query", strings.NewReader(v.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read.influxql: %w", err)
	}
	defer resp.Body.Close()
	var ans influxQLAnswer
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&ans); err != nil {
		return nil, fmt.Errorf("read.influxql: %d: undecodable answer: %w", resp.StatusCode, err)
	}
	if ans.Error != "" || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read.influxql: %d: %s", resp.StatusCode, ans.Error)
	}
	rs := &rows{cols: s.spec.Columns, windows: s.windows, from: from, to: to, sums: map[oracle.WindowKey]*oracle.Total{}}
	for _, res := range ans.Results {
		if res.Error != "" {
			return nil, fmt.Errorf("read.influxql: %s", res.Error)
		}
		for _, ser := range res.Series {
			ti := slices.Index(ser.Columns, "time")
			if ti < 0 {
				return nil, errors.New("read.influxql: the query's rows have no time column")
			}
			for _, row := range ser.Values {
				t, err := number(row[ti])
				if err != nil {
					return nil, fmt.Errorf("read.influxql: time: %w", err)
				}
				get := func(col string) any {
					if i := slices.Index(ser.Columns, col); i >= 0 {
						return row[i]
					}
					if v, ok := ser.Tags[col]; ok {
						return v
					}
					return nil
				}
				if err := rs.add(int64(t), get); err != nil {
					return nil, fmt.Errorf("read.influxql: %w", err)
				}
			}
		}
	}
	return rs.windowList(), nil
}

// fluxStore is a reports.Store over a Flux template.
type fluxStore struct {
	spec    *Flux
	windows []time.Duration
	token   string
}

// Windows implements reports.Store.
func (s *fluxStore) Windows(ctx context.Context, from, to int64) ([]oracle.Window, error) {
	cl := influxdb2.NewClientWithOptions(s.spec.URL, s.token, influxdb2.DefaultOptions().SetHTTPRequestTimeout(120))
	defer cl.Close()
	res, err := cl.QueryAPI(s.spec.Org).Query(ctx, fill(s.spec.Query, from, to, ""))
	if err != nil {
		return nil, fmt.Errorf("read.flux: %w", err)
	}
	defer res.Close()
	rs := &rows{cols: s.spec.Columns, windows: s.windows, from: from, to: to, sums: map[oracle.WindowKey]*oracle.Total{}}
	for res.Next() {
		r := res.Record()
		vals := r.Values()
		get := func(col string) any { return vals[col] }
		if f, ok := vals["_field"].(string); ok {
			// One record per field: only its own column has a value.
			get = func(col string) any {
				switch col {
				case s.spec.Columns.Count, s.spec.Columns.Sum:
					if col == f {
						return vals["_value"]
					}
					return nil
				}
				return vals[col]
			}
			if f != s.spec.Columns.Count && f != s.spec.Columns.Sum {
				continue
			}
		}
		if err := rs.add(r.Time().UnixMilli(), get); err != nil {
			return nil, fmt.Errorf("read.flux: %w", err)
		}
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("read.flux: %w", err)
	}
	return rs.windowList(), nil
}
