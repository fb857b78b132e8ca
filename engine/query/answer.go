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

// plan splits a span's windows into the part InfluxDB answers, [wFrom,
// split), and the part memory answers, [split, wTo).
type plan struct {
	sp     span
	split  int64
	closed bool // the InfluxDB part is older than the retention: closed windows
}

func (p plan) hasOld() bool { return p.split > p.sp.wFrom }
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
	p := plan{sp: sp, split: sp.wTo}
	if s.Ready() {
		f := s.floor(sp.size)
		p.split = min(max(f, sp.wFrom), sp.wTo)
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
		old, err := s.influx.sum(ctx, c.span.size, c.typ, key, c.span.wFrom, p.split, c.filter, p.closed)
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
	From    string `json:"from"`
	To      string `json:"to"`
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
	c, bp := s.parseCommon(r.URL.Query())
	if bp != nil {
		return s.writeFailure(w, bp)
	}
	t, p, err := s.sum(r.Context(), c, key)
	if err != nil {
		return s.writeFailure(w, err)
	}
	buf := bytesPool.Get().(*[]byte)
	defer bytesPool.Put(buf)
	out := countResponse{
		Key: key, Type: c.typ, Window: total.SizeName(c.span.size), Filter: c.filter.String(),
		From: fmtTime(c.span.wFrom), To: fmtTime(c.span.wTo), Count: t.Count,
		Windows: c.span.windows(), Aligned: c.span.aligned(), Source: p.source(),
	}
	*buf = out.appendJSON((*buf)[:0])
	return writeBody(w, http.StatusOK, *buf)
}

// appendRange appends the answered range fields every answer shares:
// ,"window":..[,"filter":..],"from":..,"to":..
func appendRange(b []byte, window, filter, from, to string) []byte {
	b = append(b, `,"window":`...)
	b = appendString(b, window)
	if filter != "" {
		b = append(b, `,"filter":`...)
		b = appendString(b, filter)
	}
	b = append(b, `,"from":`...)
	b = appendString(b, from)
	b = append(b, `,"to":`...)
	return appendString(b, to)
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
	From    string   `json:"from"`
	To      string   `json:"to"`
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
	q := r.URL.Query()
	c, bp := s.parseCommon(q)
	if bp != nil {
		return s.writeFailure(w, bp)
	}
	fn := q.Get("fn")
	switch fn {
	case "count", "sum", "avg", "min", "max":
	case "":
		return s.writeFailure(w, bad("fn", "missing (one of count, sum, avg, min, max)"))
	default:
		return s.writeFailure(w, bad("fn", "unknown function "+strconv.Quote(fn)+" (one of count, sum, avg, min, max)"))
	}
	t, p, err := s.sum(r.Context(), c, key)
	if err != nil {
		return s.writeFailure(w, err)
	}
	var v *float64
	set := func(f float64) { v = &f }
	switch {
	case fn == "count":
		set(float64(t.Count))
	case fn == "sum":
		set(t.Sum)
	case t.Count == 0:
	case fn == "avg":
		set(t.Avg())
	case fn == "min":
		set(t.Min)
	case fn == "max":
		set(t.Max)
	}
	out := statsResponse{
		Key: key, Type: c.typ, Fn: fn, Window: total.SizeName(c.span.size), Filter: c.filter.String(),
		From: fmtTime(c.span.wFrom), To: fmtTime(c.span.wTo), Value: v, Count: t.Count,
		Windows: c.span.windows(), Aligned: c.span.aligned(), Source: p.source(),
	}
	if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
		return writeJSON(w, http.StatusOK, out) // encoding/json's error answer
	}
	buf := bytesPool.Get().(*[]byte)
	defer bytesPool.Put(buf)
	*buf = out.appendJSON((*buf)[:0])
	return writeBody(w, http.StatusOK, *buf)
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
