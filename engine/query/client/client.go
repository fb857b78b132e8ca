// Package client is the Go client of the query service (engine/query): counts,
// statistics and top-N over time ranges, over HTTP JSON. The simulator's
// checker uses it.
//
// Errors: every non-2xx answer is an *Error carrying the status code, the
// server's message and the parameter at fault (for 400), and Retry-After
// (for 503).
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Opt configures a Client.
type Opt interface{ apply(*Client) }

type opt func(*Client)

func (o opt) apply(c *Client) { o(c) }

// Token sends "Authorization: Bearer TOKEN" with every request.
func Token(token string) Opt { return opt(func(c *Client) { c.token = token }) }

// HTTPClient sets the HTTP client (default: one with a 10 s timeout and up
// to 256 idle connections to the server).
func HTTPClient(hc *http.Client) Opt { return opt(func(c *Client) { c.hc = hc }) }

// Client talks to one query server. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
}

// New is a client of the server at baseURL (http://127.0.0.1:8081).
func New(baseURL string, opts ...Opt) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("query client: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("query client: base URL %q is not http(s)://host[:port]", baseURL)
	}
	c := &Client{base: u}
	for _, o := range opts {
		o.apply(c)
	}
	if c.hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 256
		tr.MaxIdleConnsPerHost = 256
		c.hc = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	return c, nil
}

// Range is the common part of every request. Zero From/To take the
// server's defaults (To: now; From: To - 1 minute).
type Range struct {
	// Type is the event type (required).
	Type string
	// From and To bound the range [From, To). The server answers whole
	// windows and reports the effective range.
	From, To time.Time
	// Filter keeps totals whose dimension set holds every name=value pair.
	Filter map[string]string
	// Window is the window size; 0 is the server's default.
	Window time.Duration
	// Auto asks for window=auto (Window is then ignored): the range is
	// answered from the coarsest granularity covering it plus finer ones
	// at the edges, and the answer's Plan says how (counts and stats
	// only; the server needs its retention config).
	Auto bool
}

func (r Range) values() url.Values {
	v := url.Values{}
	v.Set("type", r.Type)
	if !r.From.IsZero() {
		v.Set("from", strconv.FormatInt(r.From.UnixMilli(), 10))
	}
	if !r.To.IsZero() {
		v.Set("to", strconv.FormatInt(r.To.UnixMilli(), 10))
	}
	if len(r.Filter) > 0 {
		parts := make([]string, 0, len(r.Filter))
		for k, val := range r.Filter {
			parts = append(parts, k+":"+val)
		}
		v.Set("filter", strings.Join(parts, ","))
	}
	if r.Window > 0 {
		v.Set("window", r.Window.String())
	}
	if r.Auto {
		v.Set("window", "auto")
	}
	return v
}

// Answered is the common part of every answer.
type Answered struct {
	Type   string `json:"type"`
	Window string `json:"window"`
	Filter string `json:"filter,omitempty"`
	// From and To are the effective range: whole windows.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Aligned is false when the effective range differs from the asked one.
	Aligned bool `json:"aligned"`
	// Source is "memory", "influx" or "mixed".
	Source string `json:"source"`
	// Plan is how a window=auto answer was read, oldest piece first (nil
	// otherwise).
	Plan []PlanPiece `json:"plan,omitempty"`
}

// PlanPiece is one part of a window=auto answer: Windows windows of size
// Window from From to To, holding Count events, read from Source.
type PlanPiece struct {
	Window  string    `json:"window"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Windows int64     `json:"windows"`
	Count   int64     `json:"count"`
	Source  string    `json:"source"`
}

// CountRequest asks for a key's count.
type CountRequest struct {
	Key string
	Range
}

// CountResponse is a key's count.
type CountResponse struct {
	Key string `json:"key"`
	Answered
	Count int64 `json:"count"`
	// Windows is the number of windows in the effective range.
	Windows int64 `json:"windows"`
}

// StatsRequest asks for a statistic of a key's values.
type StatsRequest struct {
	Key string
	// Fn is count, sum, avg, min or max.
	Fn string
	Range
}

// StatsResponse is a statistic of a key's values.
type StatsResponse struct {
	Key string `json:"key"`
	Fn  string `json:"fn"`
	Answered
	// Value is the statistic; for avg, min and max of no events the server
	// sends null and Value is 0 (check Count).
	Value   float64 `json:"value"`
	Count   int64   `json:"count"`
	Windows int64   `json:"windows"`
}

// TopRequest asks for the top N keys by count.
type TopRequest struct {
	// N is the number of keys; 0 is the server's default (10).
	N int
	Range
}

// TopItem is one key of a top-N answer.
type TopItem struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// TopResponse is the top keys, largest count first, ties by key ascending.
type TopResponse struct {
	Answered
	N     int       `json:"n"`
	Items []TopItem `json:"items"`
	// Exact is true when the ranking is exact.
	Exact bool `json:"exact"`
}

// Count asks for a key's count over a range.
func (c *Client) Count(ctx context.Context, req CountRequest) (CountResponse, error) {
	var out CountResponse
	if req.Key == "" {
		return out, errors.New("query client: empty key")
	}
	err := c.get(ctx, "/v1/counts/"+url.PathEscape(req.Key), req.values(), &out)
	return out, err
}

// Stats asks for a statistic of a key's values over a range.
func (c *Client) Stats(ctx context.Context, req StatsRequest) (StatsResponse, error) {
	var out StatsResponse
	if req.Key == "" {
		return out, errors.New("query client: empty key")
	}
	v := req.values()
	v.Set("fn", req.Fn)
	err := c.get(ctx, "/v1/stats/"+url.PathEscape(req.Key), v, &out)
	return out, err
}

// Top asks for the top N keys by count over a range.
func (c *Client) Top(ctx context.Context, req TopRequest) (TopResponse, error) {
	var out TopResponse
	v := req.values()
	if req.N != 0 {
		v.Set("n", strconv.Itoa(req.N))
	}
	err := c.get(ctx, "/v1/top", v, &out)
	return out, err
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + path
	u.Path, _ = url.PathUnescape(u.RawPath)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("query client: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("query client: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("query client: reading answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode}
		var msg struct {
			Error string `json:"error"`
			Param string `json:"param"`
		}
		if json.Unmarshal(body, &msg) == nil && msg.Error != "" {
			e.Message, e.Param = msg.Error, msg.Param
		} else {
			e.Message = strings.TrimSpace(string(body))
		}
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			e.RetryAfter = time.Duration(ra) * time.Second
		}
		return e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("query client: decoding answer: %w", err)
	}
	return nil
}

// Error is a non-2xx answer.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Message is the server's error text.
	Message string
	// Param names the request parameter at fault (400 only).
	Param string
	// RetryAfter is the server's Retry-After (503 only).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := fmt.Sprintf("query: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
	if e.Param != "" {
		s += " (param " + e.Param + ")"
	}
	return s
}

// IsUnavailable reports whether err is a 503: a range needing InfluxDB
// while it is down; retry after RetryAfter.
func IsUnavailable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusServiceUnavailable
}
