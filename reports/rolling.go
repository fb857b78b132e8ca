package reports

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/countlab/countlab/sim/oracle"
)

// The rolling check: a long run's windows are checked while it runs, as
// soon as they are final, and their truth is dropped, so that the truth
// held stays bounded (sim/oracle's rolling.go); the end-of-run check does
// the rest. A window [s, e) is final once the engine's watermark has
// passed e + allowed lateness, which it does once events stamped
// e + lateness + out-of-orderness have reached it; the first look is
// Settle after that in wall-clock time (the engine's commit, the sink),
// and a window may still differ for Margin after it (the pipeline is
// behind) before it is a mismatch. A mismatched window's truth is put
// back for the end-of-run check, which decides the verdict: a mid-run
// mismatch is reported and may abort the run (RollingConfig.OnMismatch),
// but only the end-of-run check says whether the store ended exact. An
// event acknowledged for a window already taken (oracle.Stats.AfterTaken)
// means the take was premature: the run is then not exact.

// RollingConfig tunes a Roller.
type RollingConfig struct {
	// Lateness and OutOfOrderness are the engine's allowed lateness and
	// bounded out-of-orderness.
	Lateness, OutOfOrderness time.Duration
	// Settle is the wait after window end + Lateness + OutOfOrderness
	// before the first look (default 5s).
	Settle time.Duration
	// Margin is how long after its first look a window may still differ
	// before it is a mismatch (default 2m).
	Margin time.Duration
	// Store, when set, is InfluxDB read directly: every window is also
	// compared as stored (as Check does).
	Store Store
	// KeyPrefix limits the windows looked at for ones the truth does not
	// have to keys with this prefix (as CheckConfig.KeyPrefix).
	KeyPrefix string
	// Parallel is the number of queries in flight (default 8).
	Parallel int
	// OnMismatch, when set, is called once, with the first mismatch found.
	OnMismatch func(WindowDiff)
	// Frontier, when set, is the intended send time the traffic has
	// reached (a sender behind its schedule stamps its events with their
	// intended times: sim.Sender's now - lag); windows are final relative
	// to it (and never to a time after the look). Default: the look's time.
	Frontier func() time.Time
}

// RollingCheck is what the rolling check did during the run.
type RollingCheck struct {
	// Steps is the number of looks taken.
	Steps int `json:"steps"`
	// WindowsChecked is the windows (size, type, key, start) found equal
	// to the truth through the query service (and, with the store, as
	// stored) during the run, their truth then dropped;
	// StoreWindowsChecked the stored (dimension set) windows among them.
	WindowsChecked      int `json:"windows_checked"`
	StoreWindowsChecked int `json:"store_windows_checked"`
	// ExpectedEvents and CountedEvents are the truth's and the query
	// service's count over those windows (smallest size).
	ExpectedEvents int64 `json:"expected_events"`
	CountedEvents  int64 `json:"counted_events"`
	// MismatchedWindows is the windows still different Margin after their
	// first look: their truth was put back and the end-of-run check
	// checked them again (its result is the verdict).
	MismatchedWindows int `json:"mismatched_windows"`
	// UnexpectedWindows is the windows the read side had in a checked
	// window period that the truth did not (final: counted as mismatched
	// in the verdict).
	UnexpectedWindows int `json:"unexpected_windows"`
	// HandedToEnd is the windows taken but not settled during the run
	// (the traffic stopped first, or the store was still behind at the
	// margin so they were never looked at through the query service):
	// their truth went back to the end-of-run check.
	HandedToEnd int `json:"handed_to_end"`
	// AfterTaken is the events acknowledged for windows already checked
	// (oracle.Stats.AfterTaken): when not 0 the run is not exact.
	AfterTaken int64 `json:"after_taken"`
	// Forgotten is the acknowledged identities dropped past the
	// generator's duplicate horizon.
	Forgotten int64 `json:"forgotten_identities"`
	// Errors is the looks that failed (a query error); FirstError the
	// first one's message. Their windows were looked at again.
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	// FirstMismatchAtS is when the first mismatch was found, in seconds
	// from the first look (0: none).
	FirstMismatchAtS float64 `json:"first_mismatch_at_s,omitempty"`
	// WorstWindows are up to 10 mid-run mismatches, largest difference
	// first.
	WorstWindows []WindowDiff `json:"worst_windows"`
	// CheckedBefore is, per window size, the start before which the
	// rolling check took every window.
	CheckedBefore []CheckedBound `json:"checked_before"`
}

// CheckedBound is one window size's bound of the rolling check.
type CheckedBound struct {
	Window string    `json:"window"`
	Before time.Time `json:"before"`
	size   int64
}

// period is the windows of one size and start (every key, type and
// dimension set), checked together.
type period struct {
	size, start int64
	want        []oracle.Window // ByDimSet
	byKey       []oracle.Window // summed over dimension sets
	queryOK     []bool
	storeOK     bool
	keysOK      bool // no unexpected key through the query service
	deadline    time.Time
	// last differences seen
	qdiff, sdiff, kdiff []WindowDiff
}

// Roller runs the rolling check of one run.
type Roller struct {
	truth *oracle.Oracle
	q     Querier
	cfg   RollingConfig

	mu       sync.Mutex
	open     []*period
	bound    map[int64]int64 // size -> start before which periods were made
	smallest int64
	res      RollingCheck
	worst    []WindowDiff
	first    time.Time
	called   bool
	// live counts for the progress line (Status), read without mu,
	// which a look holds for its queries
	liveChecked, liveWrong atomic.Int64
}

// NewRoller is the rolling check of truth through q.
func NewRoller(truth *oracle.Oracle, q Querier, cfg RollingConfig) *Roller {
	if cfg.Settle <= 0 {
		cfg.Settle = 5 * time.Second
	}
	if cfg.Margin <= 0 {
		cfg.Margin = 2 * time.Minute
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 8
	}
	sizes := truth.Sizes()
	return &Roller{truth: truth, q: q, cfg: cfg, bound: map[int64]int64{}, smallest: sizes[0].Milliseconds()}
}

// Run takes a look every `every` until ctx ends (Step), then returns
// Finish's result.
func (r *Roller) Run(ctx context.Context, every time.Duration) RollingCheck {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return r.Finish()
		case now := <-t.C:
			r.Step(ctx, now)
		}
	}
}

// Status is the rolling check's part of a run's live progress line:
// windows checked equal so far, and mismatched.
func (r *Roller) Status() string {
	return fmt.Sprintf("rolling check %d windows ok, %d wrong", r.liveChecked.Load(), r.liveWrong.Load())
}

// Step takes the windows final at now from the truth and checks every
// open window period: those equal everywhere are done (their truth
// dropped), those past their margin are mismatches (their truth put back).
func (r *Roller) Step(ctx context.Context, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first.IsZero() {
		r.first = now
	}
	r.res.Steps++
	at := now
	if r.cfg.Frontier != nil {
		if f := r.cfg.Frontier(); f.Before(at) {
			at = f
		}
	}
	final := at.Add(-r.cfg.Lateness - r.cfg.OutOfOrderness - r.cfg.Settle)
	ws, bounds := r.truth.TakeFinal(final)
	r.addPeriods(ws, bounds, now.Add(r.cfg.Margin))
	keep := r.open[:0]
	for _, p := range r.open {
		err := r.look(ctx, p)
		switch {
		case err != nil && ctx.Err() != nil:
			keep = append(keep, p)
		case err != nil:
			r.res.Errors++
			if r.res.FirstError == "" {
				r.res.FirstError = err.Error()
			}
			keep = append(keep, p)
		case p.done():
			r.res.StoreWindowsChecked += len(p.want)
			for _, w := range p.byKey {
				r.checked(p.size, w)
			}
		case !now.Before(p.deadline):
			r.mismatch(p, now)
		default:
			keep = append(keep, p)
		}
	}
	clear(r.open[len(keep):])
	r.open = keep
}

// addPeriods makes the periods of the windows just taken, every period
// of each size between its last bound and the new one included (an empty
// one is still looked at for windows the truth does not have).
func (r *Roller) addPeriods(ws []oracle.Window, bounds []oracle.Taken, deadline time.Time) {
	bySize := map[int64]map[int64]*period{}
	for _, b := range bounds {
		from, ok := r.bound[b.Size]
		if !ok {
			from = b.Before
			for _, w := range ws {
				if w.Size == b.Size {
					from = min(from, w.Start)
				}
			}
		}
		m := map[int64]*period{}
		for s := from; s < b.Before; s += b.Size {
			p := &period{size: b.Size, start: s, deadline: deadline}
			m[s] = p
			r.open = append(r.open, p)
		}
		bySize[b.Size] = m
		r.bound[b.Size] = max(from, b.Before)
	}
	for _, w := range ws {
		p := bySize[w.Size][w.Start]
		if p == nil { // cannot happen: every start taken is in a new period
			continue
		}
		p.want = append(p.want, w)
	}
	for _, m := range bySize {
		for _, p := range m {
			p.byKey = sumByKey(p.want)
			p.queryOK = make([]bool, len(p.byKey))
		}
	}
}

// sumByKey sums ByDimSet windows (sorted) over their dimension sets.
func sumByKey(ws []oracle.Window) []oracle.Window {
	var out []oracle.Window
	for _, w := range ws {
		w.DimSet = ""
		if n := len(out); n > 0 && out[n-1].WindowKey == w.WindowKey {
			out[n-1].Count += w.Count
			out[n-1].Sum += w.Sum
			continue
		}
		out = append(out, w)
	}
	return out
}

// checked counts window w of a period of size as checked.
func (r *Roller) checked(size int64, w oracle.Window) {
	r.res.WindowsChecked++
	r.liveChecked.Add(1)
	if size == r.smallest {
		r.res.ExpectedEvents += w.Count
		r.res.CountedEvents += w.Count
	}
}

func (p *period) done() bool {
	return p.storeOK && p.keysOK && !slices.Contains(p.queryOK, false)
}

// look compares what of p is not yet equal: the store first (one query
// for the whole period), then, once it is equal, the query service (a
// query per window): a pipeline that is behind costs one query a look.
func (r *Roller) look(ctx context.Context, p *period) error {
	if r.cfg.Store == nil {
		p.storeOK = true
	}
	if !p.storeOK {
		got, err := r.cfg.Store.Windows(ctx, p.start, p.start+p.size)
		if err != nil {
			return err
		}
		p.sdiff = storeDiffs(p, got, r.cfg.KeyPrefix)
		if p.storeOK = len(p.sdiff) == 0; !p.storeOK && p.qdiff == nil {
			return nil
		}
	}
	var idx []int
	var off []oracle.Window
	for i, ok := range p.queryOK {
		if !ok {
			idx = append(idx, i)
			off = append(off, p.byKey[i])
		}
	}
	if len(off) > 0 {
		got, err := queryAll(ctx, r.q, off, r.cfg.Parallel)
		if err != nil {
			return err
		}
		p.qdiff = p.qdiff[:0]
		for j, w := range off {
			if g := got[j]; g.Count == w.Count && g.Value == w.Sum {
				p.queryOK[idx[j]] = true
			} else {
				p.qdiff = append(p.qdiff, WindowDiff{Source: "query", Window: sizeName(w.Size), Type: w.Type, Key: w.Key,
					Start: msTime(w.Start), WantCount: w.Count, GotCount: g.Count, WantSum: w.Sum, GotSum: g.Value})
			}
		}
	}
	if !p.keysOK {
		p.kdiff = nil
		if p.size == r.smallest && len(p.byKey) > 0 {
			extra, err := unexpectedKeys(ctx, r.q, p.byKey, r.cfg.KeyPrefix, nil)
			if err != nil {
				return err
			}
			p.kdiff = extra
		}
		p.keysOK = len(p.kdiff) == 0
	}
	return nil
}

// storeDiffs compares the stored windows of p's size and start with its
// truth.
func storeDiffs(p *period, got []oracle.Window, prefix string) []WindowDiff {
	have := make(map[oracle.WindowKey]oracle.Total, len(got))
	for _, g := range got {
		if g.Size == p.size && g.Start == p.start {
			have[g.WindowKey] = g.Total
		}
	}
	var out []WindowDiff
	diff := func(k oracle.WindowKey, want, got oracle.Total) WindowDiff {
		return WindowDiff{Source: "store", Window: sizeName(k.Size), Type: k.Type, Key: k.Key, DimSet: k.DimSet, Start: msTime(k.Start),
			WantCount: want.Count, GotCount: got.Count, WantSum: want.Sum, GotSum: got.Sum}
	}
	for _, w := range p.want {
		g := have[w.WindowKey]
		delete(have, w.WindowKey)
		if g != w.Total {
			out = append(out, diff(w.WindowKey, w.Total, g))
		}
	}
	for k, g := range have {
		if strings.HasPrefix(k.Key, prefix) && (g.Count != 0 || g.Sum != 0) {
			out = append(out, diff(k, oracle.Total{}, g))
		}
	}
	return out
}

// mismatch settles p as mismatched: the truth of its windows that differ
// or were not yet seen equal through the query service goes back for the
// end-of-run check; windows the truth lacks are final.
func (r *Roller) mismatch(p *period, now time.Time) {
	bad := map[oracle.WindowKey]bool{}
	diffs := slices.Concat(p.qdiff, p.kdiff, p.sdiff)
	for _, d := range diffs {
		k := oracle.WindowKey{Size: p.size, Start: p.start, Type: d.Type, Key: d.Key}
		if d.WantCount == 0 && d.WantSum == 0 && !r.inTruth(p, k) {
			r.res.UnexpectedWindows++
			continue
		}
		bad[k] = true
	}
	back := map[oracle.WindowKey]bool{}
	for i, w := range p.byKey {
		switch {
		case bad[w.WindowKey]:
			r.res.MismatchedWindows++
			r.liveWrong.Add(1)
			back[w.WindowKey] = true
		case !p.queryOK[i]: // never looked at (the store was behind)
			r.res.HandedToEnd++
			back[w.WindowKey] = true
		default:
			r.checked(p.size, w)
		}
	}
	var ws []oracle.Window
	for _, w := range p.want {
		k := w.WindowKey
		k.DimSet = ""
		if back[k] {
			ws = append(ws, w)
		} else {
			r.res.StoreWindowsChecked++
		}
	}
	r.truth.Restore(ws)
	r.worst = append(r.worst, diffs...)
	sortWorst(r.worst)
	r.worst = r.worst[:min(10, len(r.worst))]
	if len(diffs) > 0 && r.res.FirstMismatchAtS == 0 {
		r.res.FirstMismatchAtS = max(now.Sub(r.first).Seconds(), 0.001)
		if r.cfg.OnMismatch != nil && !r.called {
			r.called = true
			go r.cfg.OnMismatch(diffs[0])
		}
	}
}

func (r *Roller) inTruth(p *period, k oracle.WindowKey) bool {
	_, ok := slices.BinarySearchFunc(p.byKey, k, func(w oracle.Window, k oracle.WindowKey) int {
		return compareKeys(w.WindowKey, k)
	})
	return ok
}

func compareKeys(a, b oracle.WindowKey) int {
	if c := strings.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	return strings.Compare(a.Key, b.Key)
}

// Finish puts the truth of the windows not yet settled back for the
// end-of-run check and returns what the rolling check did. The Roller is
// not to be stepped again.
func (r *Roller) Finish() RollingCheck {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.open {
		r.truth.Restore(p.want)
		r.res.HandedToEnd += len(p.byKey)
	}
	r.open = nil
	st := r.truth.Stats()
	r.res.AfterTaken, r.res.Forgotten = st.AfterTaken, st.Forgotten
	r.res.WorstWindows = slices.Clone(r.worst)
	if r.res.WorstWindows == nil {
		r.res.WorstWindows = []WindowDiff{}
	}
	r.res.CheckedBefore = r.res.CheckedBefore[:0]
	for _, s := range r.truth.Sizes() {
		if b, ok := r.bound[s.Milliseconds()]; ok {
			r.res.CheckedBefore = append(r.res.CheckedBefore, CheckedBound{Window: sizeName(s.Milliseconds()), Before: msTime(b), size: s.Milliseconds()})
		}
	}
	return r.res
}

// before is the rolling check's bounds by size (ms), nil without one.
func (rc *RollingCheck) before() map[int64]int64 {
	if rc == nil {
		return nil
	}
	m := make(map[int64]int64, len(rc.CheckedBefore))
	for _, b := range rc.CheckedBefore {
		m[b.size] = b.Before.UnixMilli()
	}
	return m
}

// addRolling accounts for the windows the rolling check settled during
// the run: checked ones add to the windows checked and the events
// counted; windows the truth did not have are mismatches (final), and an
// event acknowledged for a window already checked leaves the run not
// exact. Mid-run mismatches were checked again above (their truth was put
// back): only that result counts.
func (a *Accuracy) addRolling(rc *RollingCheck) {
	if rc == nil {
		return
	}
	a.Rolling = rc
	a.WindowsChecked += rc.WindowsChecked
	a.CountedEvents += rc.CountedEvents
	a.Query.WindowsChecked += rc.WindowsChecked
	a.Query.CountedEvents += rc.CountedEvents
	if a.Store != nil {
		a.Store.WindowsChecked += rc.StoreWindowsChecked
		a.Store.CountedEvents += rc.CountedEvents
	}
	if rc.UnexpectedWindows > 0 || rc.AfterTaken > 0 {
		a.MismatchedWindows += rc.UnexpectedWindows
		a.Exact = false
		var extra []WindowDiff
		for _, d := range rc.WorstWindows {
			if d.WantCount == 0 && d.WantSum == 0 {
				a.Duplicated += d.GotCount
				extra = append(extra, d)
			}
		}
		a.WorstWindows = append(a.WorstWindows, extra...)
		sortWorst(a.WorstWindows)
		a.WorstWindows = a.WorstWindows[:min(10, len(a.WorstWindows))]
	}
}
