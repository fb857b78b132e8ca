package reports

import (
	"context"
	"fmt"
	"time"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/sim/oracle"
)

// AttrCheck is the check of the attribute roll-ups (views per channel):
// every expected (attribute value, type, window) total as the query
// service serves it and as InfluxDB stores it (measurement attr_total,
// summed over sub), count and sum exactly equal to the truth
// (oracle.AttrWindows).
type AttrCheck struct {
	Attr           string       `json:"attr"`
	WindowsChecked int          `json:"windows_checked"`
	Query          AttrSource   `json:"query"`
	Store          AttrSource   `json:"store"`
	Exact          bool         `json:"exact"`
	Worst          []AttrDiffer `json:"worst_windows,omitempty"`
	// SplitKeyWindows is the key windows among those checked whose events
	// the truth gives more than one value (oracle.AttrSplits): the
	// per-event join split them (set by the run, not by CheckAttrs).
	SplitKeyWindows int `json:"split_key_windows"`
}

// AttrSource is one source's result.
type AttrSource struct {
	Mismatched int  `json:"mismatched_windows"`
	Unexpected int  `json:"unexpected_windows"`
	Exact      bool `json:"exact"`
}

// AttrDiffer is one window that differs.
type AttrDiffer struct {
	Source    string `json:"source"`
	Value     string `json:"value"`
	Type      string `json:"type"`
	Size      string `json:"size"`
	Start     int64  `json:"start"`
	WantCount int64  `json:"want_count"`
	GotCount  int64  `json:"got_count"`
}

// AttrQuerier is the query service's attribute endpoint (client.Client).
type AttrQuerier interface {
	AttrStats(ctx context.Context, req client.AttrStatsRequest) (client.AttrStatsResponse, error)
}

// CheckAttrs compares want (one attribute) with the query service and the
// store, retrying until equal or drain has passed (attribute totals are
// written when their windows close).
func CheckAttrs(ctx context.Context, want []oracle.AttrWindow, q AttrQuerier, st *InfluxStore, drain time.Duration) (AttrCheck, error) {
	deadline := time.Now().Add(drain)
	for {
		c, err := checkAttrsOnce(ctx, want, q, st)
		if err != nil || c.Exact || time.Now().After(deadline) {
			return c, err
		}
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

type attrSeries struct {
	value, typ string
	size       int64
}

func checkAttrsOnce(ctx context.Context, want []oracle.AttrWindow, q AttrQuerier, st *InfluxStore) (AttrCheck, error) {
	c := AttrCheck{WindowsChecked: len(want)}
	if len(want) == 0 {
		c.Exact, c.Query.Exact, c.Store.Exact = true, true, true
		return c, nil
	}
	c.Attr = want[0].Attr
	from, to := want[0].Start, want[0].Start+want[0].Size
	wantBy := map[oracle.AttrKey]oracle.Total{}
	series := map[attrSeries]bool{}
	for _, w := range want {
		wantBy[w.AttrKey] = w.Total
		from, to = min(from, w.Start), max(to, w.Start+w.Size)
		series[attrSeries{w.Value, w.Type, w.Size}] = true
	}
	// The query service, one request per (value, type, size).
	got := map[oracle.AttrKey]oracle.Total{}
	for s := range series {
		resp, err := q.AttrStats(ctx, client.AttrStatsRequest{Attr: c.Attr, Value: s.value, Type: s.typ,
			From: time.UnixMilli(from), To: time.UnixMilli(to), Window: time.Duration(s.size) * time.Millisecond})
		if err != nil {
			return c, fmt.Errorf("attribute check: query service: %w", err)
		}
		for _, w := range resp.Windows {
			got[oracle.AttrKey{Attr: c.Attr, Value: s.value, Type: s.typ, Size: s.size, Start: w.Start.UnixMilli()}] = oracle.Total{Count: w.Count, Sum: w.Sum}
		}
	}
	c.Query = compareAttrs("query", wantBy, got, &c.Worst)
	stored, err := st.AttrWindows(ctx, c.Attr, from, to)
	if err != nil {
		return c, err
	}
	c.Store = compareAttrs("store", wantBy, stored, &c.Worst)
	c.Exact = c.Query.Exact && c.Store.Exact
	return c, nil
}

func compareAttrs(source string, want, got map[oracle.AttrKey]oracle.Total, worst *[]AttrDiffer) AttrSource {
	var s AttrSource
	for k, w := range want {
		if g := got[k]; g != w {
			s.Mismatched++
			if len(*worst) < 10 {
				*worst = append(*worst, AttrDiffer{Source: source, Value: k.Value, Type: k.Type, Size: sizeName(k.Size), Start: k.Start, WantCount: w.Count, GotCount: g.Count})
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			s.Unexpected++
		}
	}
	s.Exact = s.Mismatched == 0 && s.Unexpected == 0
	return s
}

// AttrWindows reads attribute totals of attr with a window start in
// [from, to) straight from InfluxDB (measurement attr_total; tags attr,
// value, type, win, sub; fields count, sum), summed over sub.
func (s *InfluxStore) AttrWindows(ctx context.Context, attr string, from, to int64) (map[oracle.AttrKey]oracle.Total, error) {
	q := fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == "attr_total" and r.attr == %s and (r._field == "count" or r._field == "sum"))
  |> keep(columns: ["_time", "_field", "_value", "value", "type", "win"])`,
		fluxQuote(s.bucket), msTime(from).Format(time.RFC3339Nano), msTime(to).Format(time.RFC3339Nano), fluxQuote(attr))
	res, err := s.api.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("attribute store check: flux query: %w", err)
	}
	defer res.Close()
	out := map[oracle.AttrKey]oracle.Total{}
	for res.Next() {
		r := res.Record()
		start := r.Time().UnixMilli()
		if start < from || start >= to {
			continue
		}
		tag := func(k string) string { v, _ := r.ValueByKey(k).(string); return v }
		size, err := parseSizeTag(tag("win"))
		if err != nil {
			return nil, err
		}
		k := oracle.AttrKey{Attr: attr, Value: tag("value"), Type: tag("type"), Size: size, Start: start}
		t := out[k]
		addField(&t, r.Field(), r.Value()) // storecheck.go; other types ignored, as before
		out[k] = t
	}
	return out, res.Err()
}
