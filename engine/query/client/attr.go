package client

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// AttrStatsRequest asks GET /v1/attr/{Attr}/stats/{Value}.
type AttrStatsRequest struct {
	Attr, Value, Type string
	From, To          time.Time
	Window            time.Duration // 0: the server's smallest
}

// AttrWindow is one window of an attribute value.
type AttrWindow struct {
	Start time.Time `json:"start"`
	Count int64     `json:"count"`
	Sum   float64   `json:"sum"`
	Min   float64   `json:"min"`
	Max   float64   `json:"max"`
}

// AttrStatsResponse is the answer.
type AttrStatsResponse struct {
	Attr      string       `json:"attr"`
	AttrValue string       `json:"attr_value"`
	Type      string       `json:"type"`
	Window    string       `json:"window"`
	From      time.Time    `json:"from"`
	To        time.Time    `json:"to"`
	Count     int64        `json:"count"`
	Sum       float64      `json:"sum"`
	Avg       *float64     `json:"avg"`
	Min       *float64     `json:"min"`
	Max       *float64     `json:"max"`
	Windows   []AttrWindow `json:"windows"`
	Aligned   bool         `json:"aligned"`
	Source    string       `json:"source"`
}

// AttrStats asks for one attribute value's totals, per window.
func (c *Client) AttrStats(ctx context.Context, req AttrStatsRequest) (AttrStatsResponse, error) {
	var out AttrStatsResponse
	err := c.get(ctx, "/v1/attr/"+url.PathEscape(req.Attr)+"/stats/"+url.PathEscape(req.Value), attrQuery(req.Type, req.From, req.To, req.Window, 0), &out)
	return out, err
}

// AttrTopResponse is the answer of GET /v1/attr/{name}/top.
type AttrTopResponse struct {
	Attr  string `json:"attr"`
	Type  string `json:"type"`
	Items []struct {
		Value string `json:"value"`
		Count int64  `json:"count"`
	} `json:"items"`
	Source string `json:"source"`
}

// AttrTop asks for the n attribute values with the most events.
func (c *Client) AttrTop(ctx context.Context, attr, typ string, from, to time.Time, window time.Duration, n int) (AttrTopResponse, error) {
	var out AttrTopResponse
	err := c.get(ctx, "/v1/attr/"+url.PathEscape(attr)+"/top", attrQuery(typ, from, to, window, n), &out)
	return out, err
}

func attrQuery(typ string, from, to time.Time, window time.Duration, n int) url.Values {
	v := url.Values{"type": {typ}, "from": {strconv.FormatInt(from.UnixMilli(), 10)}, "to": {strconv.FormatInt(to.UnixMilli(), 10)}}
	if window > 0 {
		v.Set("window", window.String())
	}
	if n > 0 {
		v.Set("n", strconv.Itoa(n))
	}
	return v
}
