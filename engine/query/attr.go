package query

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/enrich"
	"github.com/countlab/countlab/engine/influx"
)

// Attribute roll-ups (engine/enrich): answered from InfluxDB's attr_total
// points, which the aggregator writes once per window when it closes.
//
//	GET /v1/attr/{name}/stats/{value}?type=&from=&to=&window=
//	GET /v1/attr/{name}/top?type=&n=&from=&to=&window=

const attrPrefix = "/v1/attr/"

// AttrWindow is one window of an attribute value (summed over sub).
type AttrWindow struct {
	Start msTime  `json:"start"`
	Count int64   `json:"count"`
	Sum   float64 `json:"sum"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
}

type attrStatsResponse struct {
	Attr      string       `json:"attr"`
	AttrValue string       `json:"attr_value"`
	Type      string       `json:"type"`
	Window    string       `json:"window"`
	From      msTime       `json:"from"`
	To        msTime       `json:"to"`
	Count     int64        `json:"count"`
	Sum       float64      `json:"sum"`
	Avg       *float64     `json:"avg"` // null without events
	Min       *float64     `json:"min"`
	Max       *float64     `json:"max"`
	Windows   []AttrWindow `json:"windows"`
	Aligned   bool         `json:"aligned"`
	Source    string       `json:"source"`
}

type attrCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

type attrTopResponse struct {
	Attr    string      `json:"attr"`
	Type    string      `json:"type"`
	Window  string      `json:"window"`
	From    msTime      `json:"from"`
	To      msTime      `json:"to"`
	N       int         `json:"n"`
	Items   []attrCount `json:"items"`
	Aligned bool        `json:"aligned"`
	Source  string      `json:"source"`
}

// handleAttr routes /v1/attr/{name}/stats/{value} and /v1/attr/{name}/top.
func (s *Server) handleAttr(w http.ResponseWriter, r *http.Request) int {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), attrPrefix)
	name, rest, _ := strings.Cut(rest, "/")
	if _, err := enrich.ParseAttrNames(name); err != nil || name == "" {
		return s.writeFailure(w, bad("attr", "attribute name "+strconv.Quote(name)+": want [a-z][a-z0-9_]* (GET /v1/attr/{name}/stats/{value} or /v1/attr/{name}/top)"))
	}
	switch {
	case rest == "top":
		return s.handleAttrTop(w, r, name)
	case strings.HasPrefix(rest, "stats/"):
		u := url.URL{RawPath: "/" + strings.TrimPrefix(rest, "stats/")}
		u.Path, _ = url.PathUnescape(u.RawPath)
		value, bp := pathKey(&u, "/")
		if bp != nil {
			return s.writeFailure(w, bad("value", bp.msg))
		}
		return s.handleAttrStats(w, r, name, value)
	}
	return writeError(w, http.StatusNotFound, "", "no such endpoint "+r.URL.Path+" (GET /v1/attr/{name}/stats/{value} or /v1/attr/{name}/top)")
}

func (s *Server) attrCommon(r *http.Request, reads uint8) (params, common, *badParam) {
	q, c, bp := s.parseQuery(r.URL.RawQuery, reads)
	if bp == nil && len(c.filter) > 0 {
		bp = bad("filter", "attribute totals have no dimensions to filter on")
	}
	return q, c, bp
}

// noInflux answers 503 when the server has no InfluxDB (attribute totals
// are read only there).
func (s *Server) noInflux(w http.ResponseWriter) (int, bool) {
	if s.influx != nil {
		return 0, false
	}
	return writeError(w, http.StatusServiceUnavailable, "", "attribute totals are read from InfluxDB, which this server has not been given (--influx-url)"), true
}

func (s *Server) handleAttrStats(w http.ResponseWriter, r *http.Request, name, value string) int {
	_, c, bp := s.attrCommon(r, pCommon)
	if bp != nil {
		return s.writeFailure(w, bp)
	}
	if code, ok := s.noInflux(w); ok {
		return code
	}
	ws, err := s.attrWindows(r.Context(), name, value, c)
	if err != nil {
		return s.writeFailure(w, err)
	}
	out := attrStatsResponse{Attr: name, AttrValue: value, Type: c.typ, Window: s.sizeName(c.span.size),
		From: msTime(c.span.wFrom), To: msTime(c.span.wTo), Windows: ws, Aligned: c.span.aligned(), Source: "influxdb"}
	if out.Windows == nil {
		out.Windows = []AttrWindow{}
	}
	var lo, hi float64
	for i, aw := range ws {
		out.Count += aw.Count
		out.Sum += aw.Sum
		if i == 0 {
			lo, hi = aw.Min, aw.Max
		}
		lo, hi = min(lo, aw.Min), max(hi, aw.Max)
	}
	if out.Count > 0 {
		avg := out.Sum / float64(out.Count)
		out.Avg, out.Min, out.Max = &avg, &lo, &hi
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAttrTop(w http.ResponseWriter, r *http.Request, name string) int {
	q, c, bp := s.attrCommon(r, pCommon|pN)
	if bp != nil {
		return s.writeFailure(w, bp)
	}
	n := DefaultTopN
	if v := q.n; v != "" {
		var err error
		n, err = strconv.Atoi(v)
		if err != nil || n < 1 || n > s.cfg.maxTopN {
			return s.writeFailure(w, bad("n", "want an integer from 1 to "+strconv.Itoa(s.cfg.maxTopN)+", got "+strconv.Quote(v)))
		}
	}
	if code, ok := s.noInflux(w); ok {
		return code
	}
	sums := map[string]int64{}
	err := s.influx.run(r.Context(), attrFlux(s.influx.bucket, name, "", c)+
		`  |> filter(fn: (r) => r._field == "count")`+"\n", func(row map[string]any) error {
		v, _ := row[enrich.TagValue].(string)
		sums[v] += asInt(row["_value"])
		return nil
	})
	if err != nil {
		return s.writeFailure(w, err)
	}
	items := make([]attrCount, 0, len(sums))
	for v, n := range sums {
		items = append(items, attrCount{v, n})
	}
	slices.SortFunc(items, func(a, b attrCount) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Value, b.Value)
	})
	items = items[:min(n, len(items))]
	return writeJSON(w, http.StatusOK, attrTopResponse{Attr: name, Type: c.typ, Window: s.sizeName(c.span.size),
		From: msTime(c.span.wFrom), To: msTime(c.span.wTo), N: n, Items: items, Aligned: c.span.aligned(), Source: "influxdb"})
}

// attrWindows reads the windows of one attribute value, summed over sub.
func (s *Server) attrWindows(ctx context.Context, name, value string, c common) ([]AttrWindow, error) {
	q := attrFlux(s.influx.bucket, name, value, c) +
		`  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")` + "\n"
	by := map[int64]*AttrWindow{}
	err := s.influx.run(ctx, q, func(row map[string]any) error {
		t, _ := row["_time"].(time.Time)
		ms := t.UnixMilli()
		cnt := asInt(row["count"])
		sum, _ := row["sum"].(float64)
		lo, _ := row["min"].(float64)
		hi, _ := row["max"].(float64)
		aw := by[ms]
		if aw == nil {
			by[ms] = &AttrWindow{Start: msTime(ms), Count: cnt, Sum: sum, Min: lo, Max: hi}
			return nil
		}
		if cnt > 0 {
			if aw.Count == 0 {
				aw.Min, aw.Max = lo, hi
			}
			aw.Min, aw.Max = min(aw.Min, lo), max(aw.Max, hi)
		}
		aw.Count += cnt
		aw.Sum += sum
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]AttrWindow, 0, len(by))
	for _, aw := range by {
		out = append(out, *aw)
	}
	slices.SortFunc(out, func(a, b AttrWindow) int { return int(int64(a.Start) - int64(b.Start)) })
	return out, nil
}

// attrFlux selects attr_total points of one attribute (and value, if not
// "") for the span.
func attrFlux(bucket, name, value string, c common) string {
	var b strings.Builder
	b.WriteString("from(bucket: " + influx.FluxString(bucket) + ")\n  |> range(start: " + fluxTime(c.span.wFrom) +
		", stop: " + time.UnixMilli(c.span.wTo).Add(-time.Nanosecond).UTC().Format(time.RFC3339Nano) + ")\n")
	b.WriteString("  |> filter(fn: (r) => r._measurement == " + influx.FluxString(enrich.Measurement) +
		" and r.attr == " + influx.FluxString(name) + " and r.type == " + influx.FluxString(c.typ) +
		" and r.win == " + influx.FluxString(enrich.SizeName(c.span.size)))
	if value != "" {
		b.WriteString(" and r.value == " + influx.FluxString(value))
	}
	b.WriteString(")\n")
	return b.String()
}

func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	case uint64:
		return int64(x)
	}
	return 0
}
