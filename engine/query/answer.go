package query

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/countlab/countlab/engine/total"
)

var (
	errWarmingUp = errors.New("still reading the aggregates topic and no InfluxDB configured")
	errCanceled  = errors.New("request canceled")
)

// Sources of an answer.
const (
	sourceMemory = "memory"
	sourceInflux = "influx"
	sourceMixed  = "mixed"
)

// plan splits a span's windows into the part InfluxDB answers, [from,
// split), and the part memory answers, [split, wTo). Windows before the
// unix epoch are in neither: they hold nothing (the ingest refuses events
// at or before 1970-01-01), so a range ending at or before the epoch is
// answered zero without asking InfluxDB, whose Flux ranges with a stop
// before 1970 select every point.
type plan struct {
	sp     span
	from   int64 // max(wFrom, 0)
	split  int64
	closed bool // the InfluxDB part is older than the retention: closed windows
}

func (p plan) hasOld() bool { return p.split > p.from }
func (p plan) hasMem() bool { return p.split < p.sp.wTo }

func (p plan) source() string {
	switch {
	case !p.hasOld():
		return sourceMemory
	case !p.hasMem():
		return sourceInflux
	}
	return sourceMixed
}

func (s *Server) plan(sp span) (plan, error) {
	p := plan{sp: sp, from: min(max(sp.wFrom, 0), sp.wTo), split: sp.wTo}
	if s.Ready() {
		f := s.floor(sp.size)
		p.split = min(max(f, p.from), sp.wTo)
		p.closed = true
	}
	if p.hasOld() && s.influx == nil {
		if s.cons != nil && !s.Ready() {
			return p, errWarmingUp
		}
		return p, errNoInflux
	}
	return p, nil
}

// sum merges key's totals over the span from memory and InfluxDB.
func (s *Server) sum(ctx context.Context, c common, key string) (total.Total, plan, error) {
	p, err := s.plan(c.span)
	if err != nil {
		return total.Total{}, p, err
	}
	var t total.Total
	if p.hasMem() {
		t = s.st.sum(c.span.size, c.typ, key, p.split, c.span.wTo, c.filter)
	}
	if p.hasOld() {
		old, err := s.influx.sum(ctx, c.span.size, c.typ, key, p.from, p.split, c.filter, p.closed)
		if err != nil {
			return t, p, ctxErr(ctx, err)
		}
		t.Merge(old)
	}
	s.m.answer(p.source())
	return t, p, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errCanceled
	}
	return err
}

// countResponse is the answer of /v1/counts.
type countResponse struct {
	Key     string `json:"key"`
	Type    string `json:"type"`
	Window  string `json:"window"`
	Filter  string `json:"filter,omitempty"`
	From    msTime `json:"from"`
	To      msTime `json:"to"`
	Count   int64  `json:"count"`
	Windows int64  `json:"windows"`
	Aligned bool   `json:"aligned"`
	Source  string `json:"source"`
}

func (s *Server) handleCount(w http.ResponseWriter, r *http.Request) int {
	key, bp := pathKey(r.URL, "/v1/counts/")
	if bp != nil {
		return s.writeFailure(w, bp)
	}
	_, c, bp := s.parseQuery(r.URL.RawQuery, pCommon)
	if bp != nil {
		return s.writeFailure(w, bp)
	}
	if c.auto {
		return s.handleAuto(w, r, key, "", c)
	}
	t, p, err := s.sum(r.Context(), c, key)
	if err != nil {
		return s.writeFailure(w, err)
	}
	buf := bytesPool.Get().(*[]byte)
	defer bytesPool.Put(buf)
	out := countResponse{
		Key: key, Type: c.typ, Window: s.sizeName(c.span.size), Filter: c.filter.String(),
		From: msTime(c.span.wFrom), To: msTime(c.span.wTo), Count: t.Count,
		Windows: c.span.windows(), Aligned: c.span.aligned(), Source: p.source(),
	}
	*buf = out.appendJSON((*buf)[:0])
	return writeBody(w, http.StatusOK, *buf)
}

// appendRange appends the answered range fields every answer shares:
// ,"window":..[,"filter":..],"from":..,"to":..
func appendRange(b []byte, window, filter string, from, to msTime) []byte {
	b = append(b, `,"window":`...)
	b = appendString(b, window)
	if filter != "" {
		b = append(b, `,"filter":`...)
		b = appendString(b, filter)
	}
	b = append(b, `,"from":`...)
	b = from.appendJSON(b)
	b = append(b, `,"to":`...)
	return to.appendJSON(b)
}

// appendCountTail appends the closing fields counts and stats answers share:
// ,"count":..,"windows":..,"aligned":..,"source":..} and the newline.
func appendCountTail(b []byte, count, windows int64, aligned bool, source string) []byte {
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, count, 10)
	b = append(b, `,"windows":`...)
	b = strconv.AppendInt(b, windows, 10)
	b = append(b, `,"aligned":`...)
	b = strconv.AppendBool(b, aligned)
	b = append(b, `,"source":`...)
	b = appendString(b, source)
	return append(b, "}\n"...)
}

// appendJSON appends r as JSON, as encoding/json would write it (the hot
// path, written by hand).
func (r *countResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"key":`...)
	b = appendString(b, r.Key)
	b = append(b, `,"type":`...)
	b = appendString(b, r.Type)
	b = appendRange(b, r.Window, r.Filter, r.From, r.To)
	return appendCountTail(b, r.Count, r.Windows, r.Aligned, r.Source)
}

// statsResponse is the answer of /v1/stats.
type statsResponse struct {
	Key     string   `json:"key"`
	Type    string   `json:"type"`
	Fn      string   `json:"fn"`
	Window  string   `json:"window"`
	Filter  string   `json:"filter,omitempty"`
	From    msTime   `json:"from"`
	To      msTime   `json:"to"`
	Value   *float64 `json:"value"` // null for avg, min, max of no events
	Count   int64    `json:"count"`
	Windows int64    `json:"windows"`
	Aligned bool     `json:"aligned"`
	Source  string   `json:"source"`
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) int {
	key, bp := pathKey(r.URL, "/v1/stats/")
	if bp != nil {
		return s.writeFailure(w, bp)
	}
	q, c, bp := s.parseQuery(r.URL.RawQuery, pCommon|pFn)
	if bp != nil {
		return s.writeFailure(w, bp)
	}
	fn := q.fn
	switch fn {
	case "count", "sum", "avg", "min", "max":
	case "":
		return s.writeFailure(w, bad("fn", "missing (one of count, sum, avg, min, max)"))
	default:
		return s.writeFailure(w, bad("fn", "unknown function "+strconv.Quote(fn)+" (one of count, sum, avg, min, max)"))
	}
	if c.auto {
		return s.handleAuto(w, r, key, fn, c)
	}
	t, p, err := s.sum(r.Context(), c, key)
	if err != nil {
		return s.writeFailure(w, err)
	}
	var v float64
	hasV := true
	switch {
	case fn == "count":
		v = float64(t.Count)
	case fn == "sum":
		v = t.Sum
	case t.Count == 0:
		hasV = false
	case fn == "avg":
		v = t.Avg()
	case fn == "min":
		v = t.Min
	case fn == "max":
		v = t.Max
	}
	if hasV && (math.IsNaN(v) || math.IsInf(v, 0)) {
		bad := s.statsAnswer(key, fn, c, t, p)
		bad.Value = new(v)
		return writeJSON(w, http.StatusOK, bad) // encoding/json's error answer
	}
	out := s.statsAnswer(key, fn, c, t, p)
	if hasV {
		out.Value = &v // one 8-byte allocation: appendString may hand out's strings to encoding/json
	}
	buf := bytesPool.Get().(*[]byte)
	defer bytesPool.Put(buf)
	*buf = out.appendJSON((*buf)[:0])
	return writeBody(w, http.StatusOK, *buf)
}

// statsAnswer is the answer of /v1/stats without its value.
func (s *Server) statsAnswer(key, fn string, c common, t total.Total, p plan) statsResponse {
	return statsResponse{
		Key: key, Type: c.typ, Fn: fn, Window: s.sizeName(c.span.size), Filter: c.filter.String(),
		From: msTime(c.span.wFrom), To: msTime(c.span.wTo), Count: t.Count,
		Windows: c.span.windows(), Aligned: c.span.aligned(), Source: p.source(),
	}
}

// appendJSON appends r as JSON, as encoding/json would write it; Value
// must be finite.
func (r *statsResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"key":`...)
	b = appendString(b, r.Key)
	b = append(b, `,"type":`...)
	b = appendString(b, r.Type)
	b = append(b, `,"fn":`...)
	b = appendString(b, r.Fn)
	b = appendRange(b, r.Window, r.Filter, r.From, r.To)
	b = append(b, `,"value":`...)
	if r.Value == nil {
		b = append(b, "null"...)
	} else {
		b = appendFloat(b, *r.Value)
	}
	return appendCountTail(b, r.Count, r.Windows, r.Aligned, r.Source)
}
