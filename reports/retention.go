package reports

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/sim/oracle"
)

// RetentionCheck is the check of the granularities under the retention
// config (engine/rollup): which truth windows were compared, which were
// past their retention (not expected anywhere), and ranges asked with
// window=auto compared with the truth over the range each answer states.
type RetentionCheck struct {
	// Granularities is one entry per granularity, finest first.
	Granularities []GranularityCheck `json:"granularities"`
	// Ranges is the window=auto range check.
	Ranges RangeCheck `json:"ranges"`
}

// GranularityCheck is one granularity's windows.
type GranularityCheck struct {
	Window    string `json:"window"`
	Retention string `json:"retention"` // "forever" for 0
	Policy    string `json:"policy"`
	// WindowsRetained is the truth's windows still retained when checked
	// (compared through the query service and in the store);
	// WindowsExpired those past the retention (not compared).
	WindowsRetained int `json:"windows_retained"`
	WindowsExpired  int `json:"windows_expired"`
	// ExpiredStillStored is, for a retention the sink enforces (below
	// InfluxDB's 1h minimum), the windows the store still holds though
	// past their retention by more than three delete intervals: 0 when
	// expiry works.
	ExpiredStillStored int `json:"expired_still_stored"`
}

// RangeCheck is the window=auto ranges compared with the truth.
type RangeCheck struct {
	RangesChecked int `json:"ranges_checked"`
	// OverExpired is the ranges whose answer spans windows of the finest
	// granularity that were past its retention (answered from coarser
	// totals there).
	OverExpired int         `json:"over_expired"`
	Mismatched  int         `json:"mismatched"`
	Exact       bool        `json:"exact"`
	Examples    []RangeDiff `json:"examples"`
}

// RangeDiff is one mismatched range.
type RangeDiff struct {
	Type      string    `json:"type"`
	Key       string    `json:"key"`
	From      time.Time `json:"from"` // as answered
	To        time.Time `json:"to"`
	WantCount int64     `json:"want_count"`
	GotCount  int64     `json:"got_count"`
	WantSum   float64   `json:"want_sum"`
	GotSum    float64   `json:"got_sum"`
	Plan      string    `json:"plan"`
}

// retentionCut is the time the expiry of a check is judged at: windows
// expired then are left out of every comparison, so a window expiring
// while the check runs is in none. It is the drain timeout plus 30 s
// ahead, at most half the shortest retention (so some windows of the
// finest granularity are still retained at the end of a short run).
func retentionCut(cfg CheckConfig) int64 {
	ahead := cfg.Drain + 30*time.Second
	for _, g := range cfg.Retention.Granularities {
		if g.Retention > 0 {
			ahead = min(ahead, g.Retention/2)
			break
		}
	}
	return time.Now().Add(ahead).UnixMilli()
}

// splitRetained splits the truth's windows into those still retained at
// cut and counts the expired ones per granularity into rc.
func splitRetained(want []oracle.Window, r *rollup.Config, cut int64, rc *RetentionCheck, count bool) []oracle.Window {
	out := want[:0:0]
	for _, w := range want {
		expired := r.Expired(w.Size, w.Start, cut)
		if count {
			if i := granIndex(r, w.Size); i >= 0 {
				if expired {
					rc.Granularities[i].WindowsExpired++
				} else {
					rc.Granularities[i].WindowsRetained++
				}
			}
		}
		if !expired {
			out = append(out, w)
		}
	}
	return out
}

// completeFirst moves the windows of the finest granularity with no
// expired window to the front, so that the comparisons count events
// (counted_events, lost, duplicated) over a granularity holding every
// event, not over a finest one whose older windows expired.
func completeFirst(ws []oracle.Window, r *rollup.Config, rc *RetentionCheck) []oracle.Window {
	size := int64(-1)
	for i, g := range rc.Granularities {
		if g.WindowsExpired == 0 {
			size = r.Granularities[i].Window.Milliseconds()
			break
		}
	}
	if size < 0 || len(ws) == 0 || ws[0].Size == size {
		return ws
	}
	out := make([]oracle.Window, 0, len(ws))
	for _, w := range ws {
		if w.Size == size {
			out = append(out, w)
		}
	}
	for _, w := range ws {
		if w.Size != size {
			out = append(out, w)
		}
	}
	return out
}

func granIndex(r *rollup.Config, size int64) int {
	for i, g := range r.Granularities {
		if g.Window.Milliseconds() == size {
			return i
		}
	}
	return -1
}

func newRetentionCheck(r *rollup.Config) *RetentionCheck {
	rc := &RetentionCheck{Ranges: RangeCheck{Exact: true, Examples: []RangeDiff{}}}
	for _, g := range r.Granularities {
		ret := "forever"
		if g.Retention > 0 {
			ret = g.Retention.String()
		}
		rc.Granularities = append(rc.Granularities, GranularityCheck{Window: sizeName(g.Window.Milliseconds()), Retention: ret, Policy: g.PolicyName()})
	}
	return rc
}

// retainedStore is a Store without the windows past their retention at
// cut (still stored until the delete or InfluxDB's shard expiry).
type retainedStore struct {
	Store
	r   *rollup.Config
	cut int64
}

func (s retainedStore) Windows(ctx context.Context, from, to int64) ([]oracle.Window, error) {
	got, err := s.Store.Windows(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(got, func(w oracle.Window) bool { return s.r.Expired(w.Size, w.Start, s.cut) }), nil
}

// countStillStored counts, per enforced granularity, the stored windows
// past their retention by more than three delete intervals.
func countStillStored(ctx context.Context, st Store, r *rollup.Config, prefix string, from, to int64, rc *RetentionCheck) error {
	got, err := st.Windows(ctx, from, to)
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	slack := 3 * r.EnforceInterval().Milliseconds()
	for _, w := range got {
		i := granIndex(r, w.Size)
		if i < 0 || !r.Granularities[i].Emulated() || w.Count == 0 && w.Sum == 0 || !strings.HasPrefix(w.Key, prefix) {
			continue
		}
		if r.Expired(w.Size, w.Start, now-slack) {
			rc.Granularities[i].ExpiredStillStored++
		}
	}
	return nil
}

// maxRangeKeys and rangesPerKey bound the range check's queries.
const (
	maxRangeKeys = 20
	rangesPerKey = 12
)

// checkRanges asks window=auto ranges over the truth's span for up to
// maxRangeKeys (type, key) series (the largest first): the whole span,
// every coarsest window in it and random ranges, and compares each answer
// with the sum of the truth's finest-granularity windows over the range
// the answer states.
func checkRanges(ctx context.Context, want []oracle.Window, q Querier, r *rollup.Config, rc *RetentionCheck) error {
	finest := r.Granularities[0].Window.Milliseconds()
	coarsest := r.Granularities[len(r.Granularities)-1].Window.Milliseconds()
	type sk struct{ typ, key string }
	base := map[sk][]oracle.Window{}
	var lo, hi int64
	for _, w := range want {
		if w.Size != finest {
			continue
		}
		if len(base) == 0 || w.Start < lo {
			lo = w.Start
		}
		hi = max(hi, w.End())
		k := sk{w.Type, w.Key}
		base[k] = append(base[k], w)
	}
	if len(base) == 0 {
		return nil
	}
	series := make([]sk, 0, len(base))
	for k := range base {
		series = append(series, k)
	}
	totals := make(map[sk]int64, len(base))
	for k, ws := range base {
		for _, w := range ws {
			totals[k] += w.Count
		}
	}
	slices.SortFunc(series, func(a, b sk) int {
		return cmp.Or(cmp.Compare(totals[b], totals[a]), cmp.Compare(a.typ, b.typ), cmp.Compare(a.key, b.key))
	})
	series = series[:min(len(series), maxRangeKeys)]
	rnd := rand.New(rand.NewPCG(uint64(lo), uint64(hi)))
	floor := r.Granularities[0].Floor(time.Now().UnixMilli())
	for _, k := range series {
		ranges := [][2]int64{{lo, hi}}
		for s := lo - lo%coarsest; s < hi; s += coarsest {
			ranges = append(ranges, [2]int64{s, s + coarsest})
		}
		for len(ranges) < rangesPerKey {
			a := lo + rnd.Int64N(hi-lo)
			ranges = append(ranges, [2]int64{a, a + 1 + rnd.Int64N(hi-a)})
		}
		for _, rg := range ranges {
			got, err := q.Stats(ctx, client.StatsRequest{Key: k.key, Fn: "sum", Range: client.Range{Type: k.typ, From: msTime(rg[0]), To: msTime(rg[1]), Auto: true}})
			if err != nil {
				return fmt.Errorf("range check %s %q [%s, %s): %w", k.typ, k.key, msTime(rg[0]).Format(time.RFC3339), msTime(rg[1]).Format(time.RFC3339), err)
			}
			rc.Ranges.RangesChecked++
			f, t := got.From.UnixMilli(), got.To.UnixMilli()
			if f < floor {
				rc.Ranges.OverExpired++
			}
			var wc int64
			var ws float64
			for _, w := range base[k] {
				if w.Start >= f && w.Start < t {
					wc += w.Count
					ws += w.Sum
				}
			}
			if got.Count == wc && got.Value == ws && f <= rg[0] && t >= rg[1] {
				continue
			}
			rc.Ranges.Mismatched++
			rc.Ranges.Exact = false
			if len(rc.Ranges.Examples) < 10 {
				plan := ""
				for _, p := range got.Plan {
					plan += fmt.Sprintf("%s %s..%s (%d); ", p.Window, p.From.Format(time.RFC3339), p.To.Format(time.RFC3339), p.Count)
				}
				rc.Ranges.Examples = append(rc.Ranges.Examples, RangeDiff{Type: k.typ, Key: k.key, From: got.From, To: got.To,
					WantCount: wc, GotCount: got.Count, WantSum: ws, GotSum: got.Value, Plan: plan})
			}
		}
	}
	return nil
}

// WriteRetention writes the retention check, each line indented.
func (a *Accuracy) WriteRetention(w io.Writer, indent string) {
	rc := a.Retention
	if rc == nil {
		return
	}
	for _, g := range rc.Granularities {
		fmt.Fprintf(w, "%sgranularity %s (policy %s, kept %s): %d windows retained and checked, %d expired, %d expired but still stored\n",
			indent, g.Window, g.Policy, g.Retention, g.WindowsRetained, g.WindowsExpired, g.ExpiredStillStored)
	}
	fmt.Fprintf(w, "%sranges (window=auto): %d checked, %d over expired %s totals, %d mismatched, exact=%v\n",
		indent, rc.Ranges.RangesChecked, rc.Ranges.OverExpired, rc.Granularities[0].Window, rc.Ranges.Mismatched, rc.Ranges.Exact)
	for _, d := range rc.Ranges.Examples {
		fmt.Fprintf(w, "%s  %s %q %s..%s: count %d sum %g, want count %d sum %g; plan %s\n", indent, d.Type, d.Key,
			d.From.Format(time.RFC3339), d.To.Format(time.RFC3339), d.GotCount, d.GotSum, d.WantCount, d.WantSum, d.Plan)
	}
}

// ReadBuckets makes s read these buckets too (each granularity's policy,
// "db/<policy>" on 1.8; a bucket given twice is read once).
func (s *InfluxStore) ReadBuckets(buckets ...string) {
	for _, b := range buckets {
		if b != s.bucket && !slices.Contains(s.more, b) {
			s.more = append(s.more, b)
		}
	}
}
