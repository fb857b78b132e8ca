package query

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/engine/total"
)

// autoWindow is the window parameter asking for a range planned over the
// granularities: the coarsest whole windows inside, finer ones at the
// edges (rollup.Config.Plan).
const autoWindow = "auto"

// Rollup gives the server the retention config (engine/rollup): each
// granularity is read from its own bucket (influx.PolicyBuckets), a range
// asked at one window size whose windows are past that granularity's
// retention is refused (400, param "from"), and window=auto answers
// /v1/counts and /v1/stats over any range from the coarsest granularity
// covering it plus finer ones at the edges, never reading an expired
// window; it is also what a count or stats request without window= gets.
// Every granularity must be one of Windows.
func Rollup(r rollup.Config) Opt { return opt(func(c *cfg) { c.rollup = &r }) }

func (c *cfg) validateRollup() error {
	if c.rollup == nil {
		return nil
	}
	if err := c.rollup.Validate(); err != nil {
		return fmt.Errorf("query: retention: %w", err)
	}
	if err := c.rollup.CheckWindows(c.windows); err != nil {
		return fmt.Errorf("query: retention: %w", err)
	}
	return nil
}

// bucketFor is the bucket of window size ms.
func (s *influxSource) bucketFor(size int64) string {
	return influx.Config{Bucket: s.bucket, Buckets: s.buckets}.BucketFor(size)
}

// planNow is the time plans and retention checks are made at: now plus
// the longest an InfluxDB read may take, so that no window read is
// dropped by its retention while the answer is being computed.
func (s *Server) planNow() int64 {
	return s.cfg.now().Add(s.cfg.influxTimeout).UnixMilli()
}

// autoSize marks c as window=auto and sets size to the finest
// granularity (the parsed span is re-planned by handleAuto).
func (s *Server) autoSize(c *common, size *time.Duration) *badParam {
	if s.cfg.rollup == nil {
		return bad("window", "window=auto needs the server's retention config (granularities); give a window size (one of "+s.windowNames()+")")
	}
	c.auto = true
	*size = s.cfg.rollup.Granularities[0].Window
	return nil
}

// retained refuses a span of one window size reaching back before its
// granularity's retention.
func (s *Server) retained(c common, sp span) *badParam {
	if c.auto || s.cfg.rollup == nil {
		return nil
	}
	g, ok := s.cfg.rollup.Of(sp.size)
	if !ok || g.Retention == 0 {
		return nil
	}
	if f := g.Floor(s.planNow()); sp.wFrom < f {
		return bad("from", fmt.Sprintf("%s totals are kept for %v: the oldest one still kept starts at %s; ask from then on, or window=auto (coarser totals for older times)",
			total.SizeName(sp.size), g.Retention, time.UnixMilli(f).UTC().Format(time.RFC3339)))
	}
	return nil
}

// autoPiece is one part of a planned answer.
type autoPiece struct {
	Window  string `json:"window"`
	From    msTime `json:"from"`
	To      msTime `json:"to"`
	Windows int64  `json:"windows"`
	Count   int64  `json:"count"`
	Source  string `json:"source"`
}

// autoResponse is the answer of /v1/counts and /v1/stats with
// window=auto: from and to are the effective range (each edge rounded out
// to the finest granularity retained there), plan how it was read.
type autoResponse struct {
	Key     string      `json:"key"`
	Type    string      `json:"type"`
	Fn      string      `json:"fn,omitempty"`
	Window  string      `json:"window"`
	Filter  string      `json:"filter,omitempty"`
	From    msTime      `json:"from"`
	To      msTime      `json:"to"`
	Count   int64       `json:"count"`
	Windows int64       `json:"windows"`
	Aligned bool        `json:"aligned"`
	Source  string      `json:"source"`
	Plan    []autoPiece `json:"plan"`
}

// autoStats is autoResponse for /v1/stats: value is always present (null
// for avg, min, max of no events).
type autoStats struct {
	autoResponse
	Value *float64 `json:"value"`
}

// handleAuto answers a window=auto count (fn "") or stats request.
func (s *Server) handleAuto(w http.ResponseWriter, r *http.Request, key, fn string, c common) int {
	pl, err := s.cfg.rollup.Plan(c.span.from, c.span.to, s.planNow())
	if err != nil {
		return s.writeFailure(w, bad("from", err.Error()))
	}
	out := autoResponse{Key: key, Type: c.typ, Fn: fn, Window: autoWindow, Filter: c.filter.String(),
		From: msTime(pl.From), To: msTime(pl.To), Aligned: pl.From == c.span.from && pl.To == c.span.to, Plan: []autoPiece{}}
	t, src, err := s.sumPlan(r.Context(), c, key, pl, &out)
	if err != nil {
		return s.writeFailure(w, err)
	}
	out.Count, out.Windows, out.Source = t.Count, pl.Windows(), src
	if fn == "" {
		return writeJSON(w, http.StatusOK, out)
	}
	st := autoStats{autoResponse: out}
	if v, ok := statValue(fn, t); ok {
		st.Value = &v
	}
	return writeJSON(w, http.StatusOK, st)
}

// sumPlan sums key's totals over every piece of pl, recording each piece
// in out.Plan; the source is memory, influx or mixed over the pieces.
func (s *Server) sumPlan(ctx context.Context, c common, key string, pl rollup.Plan, out *autoResponse) (total.Total, string, error) {
	var t total.Total
	src := ""
	for _, pc := range pl.Pieces {
		pcC := c
		pcC.span = span{size: pc.Size, from: pc.From, to: pc.To, wFrom: pc.From, wTo: pc.To}
		pt, p, err := s.sum(ctx, pcC, key)
		if err != nil {
			return t, "", err
		}
		t.Merge(pt)
		ps := p.source()
		switch {
		case src == "":
			src = ps
		case src != ps:
			src = sourceMixed
		}
		out.Plan = append(out.Plan, autoPiece{Window: total.SizeName(pc.Size), From: msTime(pc.From), To: msTime(pc.To),
			Windows: pc.Windows(), Count: pt.Count, Source: ps})
	}
	if src == "" {
		src = sourceMemory
	}
	return t, src, nil
}

// statValue is fn of t; false for avg, min and max of no events (null).
func statValue(fn string, t total.Total) (float64, bool) {
	switch {
	case fn == "count":
		return float64(t.Count), true
	case fn == "sum":
		return t.Sum, true
	case t.Count == 0:
		return 0, false
	case fn == "avg":
		return t.Avg(), true
	case fn == "min":
		return t.Min, true
	case fn == "max":
		return t.Max, true
	}
	return math.NaN(), true
}
