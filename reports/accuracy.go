package reports

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/sim/ledger"
)

// Accuracy is the comparison of every window the query service serves
// with the ledger.
type Accuracy struct {
	// ExpectedEvents is the ledger's distinct acknowledged events expected
	// in their windows.
	ExpectedEvents int64 `json:"expected_events"`
	// CountedEvents is what the query service counts over the same windows
	// (the smallest window size).
	CountedEvents int64 `json:"counted_events"`
	// Lost is the events missing from windows that count too few.
	Lost int64 `json:"lost"`
	// Duplicated is the events too many in windows that count too many.
	Duplicated int64 `json:"duplicated"`
	// MismatchedWindows is the windows (any size) whose count or sum
	// differs.
	MismatchedWindows int `json:"mismatched_windows"`
	// WindowsChecked is the windows compared.
	WindowsChecked int `json:"windows_checked"`
	// UnexpectedKeys is the (window, key) totals the query service serves
	// that the ledger does not have: events counted that were never
	// acknowledged (looked for with a top-N query in every window of the
	// smallest size with fewer than 1000 keys).
	UnexpectedKeys int `json:"unexpected_keys"`
	// LateEvents is the acknowledged events sent after their window
	// closed, not expected before a reconcile.
	LateEvents int64 `json:"late_events"`
	// IncludesLate is set when late events were expected (after a
	// reconcile).
	IncludesLate bool `json:"includes_late"`
	// Exact is true when every window equals the ledger.
	Exact bool `json:"exact"`
	// WorstWindows are up to 10 mismatched windows, largest difference
	// first.
	WorstWindows []WindowDiff `json:"worst_windows"`
	// Reconcile, when late events were sent, is the check before the
	// reconcile (late events not expected, the engine's late policy) and
	// what the reconcile did; the fields above are then the check after
	// it, with the late events expected.
	Reconcile *ReconcileCheck `json:"reconcile,omitempty"`
}

// ReconcileCheck is the accuracy before a reconcile and what it did.
type ReconcileCheck struct {
	// OnTimeExact and OnTimeMismatched are the check of the on-time
	// ledger before the reconcile.
	OnTimeExact      bool `json:"on_time_exact"`
	OnTimeMismatched int  `json:"on_time_mismatched"`
	// EventsRecounted is the distinct events the reconcile recounted from
	// the events topic.
	EventsRecounted int64 `json:"events_recounted"`
	// WindowsRewritten is the windows it repaired.
	WindowsRewritten int `json:"windows_rewritten"`
	// WindowsSkippedOpen is the windows it left to the engine.
	WindowsSkippedOpen int     `json:"windows_skipped_open"`
	DurationS          float64 `json:"duration_s"`
}

// WindowDiff is one mismatched window.
type WindowDiff struct {
	Window    string    `json:"window"`
	Type      string    `json:"type"`
	Key       string    `json:"key"`
	Start     time.Time `json:"start"`
	WantCount int64     `json:"want_count"`
	GotCount  int64     `json:"got_count"`
	WantSum   float64   `json:"want_sum"`
	GotSum    float64   `json:"got_sum"`
}

func (d WindowDiff) String() string {
	return fmt.Sprintf("%s window %s %s %s: count %d sum %g, want count %d sum %g",
		d.Window, d.Start.Format(time.RFC3339), d.Type, d.Key, d.GotCount, d.GotSum, d.WantCount, d.WantSum)
}

// Querier is the part of the query client the checker uses.
type Querier interface {
	Stats(ctx context.Context, req client.StatsRequest) (client.StatsResponse, error)
	Top(ctx context.Context, req client.TopRequest) (client.TopResponse, error)
}

// maxTopN is the query service's default top-N limit: windows with fewer
// keys than this are also checked for keys the ledger does not have.
const maxTopN = 1000

// CheckConfig tunes Check.
type CheckConfig struct {
	// Parallel is the number of queries in flight (default 16).
	Parallel int
	// IncludeLate expects the late events too (after a reconcile).
	IncludeLate bool
	// Drain, when > 0, re-checks mismatched windows until they match or
	// Drain has passed, before the final full check: the pipeline is
	// still catching up.
	Drain time.Duration
	// Progress, when set, is told how many windows are still off while
	// draining.
	Progress func(off, total int)
}

// Check compares every (size, type, key, window) the ledger expects with
// the query service's count and sum (summed over dimension sets and
// partitions), with exact equality.
func Check(ctx context.Context, l *ledger.Ledger, q Querier, cfg CheckConfig) (Accuracy, error) {
	if cfg.Parallel <= 0 {
		cfg.Parallel = 16
	}
	want := l.Totals(ledger.ByKey, cfg.IncludeLate)
	st := l.Stats()
	acc := Accuracy{ExpectedEvents: st.Events, LateEvents: st.Late, IncludesLate: cfg.IncludeLate, WindowsChecked: len(want)}
	if cfg.IncludeLate {
		acc.ExpectedEvents += st.Late
	}
	if cfg.Drain > 0 {
		deadline := time.Now().Add(cfg.Drain)
		off := want
		for {
			got, err := queryAll(ctx, q, off, cfg.Parallel)
			if err != nil {
				return acc, err
			}
			var still []ledger.Window
			for i, w := range off {
				if got[i].Count != w.Count || got[i].Value != w.Sum {
					still = append(still, w)
				}
			}
			if cfg.Progress != nil {
				cfg.Progress(len(still), len(want))
			}
			if len(still) == 0 || time.Now().After(deadline) {
				break
			}
			off = still
			select {
			case <-ctx.Done():
				return acc, ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	got, err := queryAll(ctx, q, want, cfg.Parallel)
	if err != nil {
		return acc, err
	}
	var smallest time.Duration
	if len(want) > 0 {
		smallest = want[0].Size // sorted by size first
	}
	var diffs []WindowDiff
	for i, w := range want {
		g := got[i]
		if w.Size == smallest {
			acc.CountedEvents += g.Count
			if d := w.Count - g.Count; d > 0 {
				acc.Lost += d
			} else {
				acc.Duplicated -= d
			}
		}
		if g.Count != w.Count || g.Value != w.Sum {
			diffs = append(diffs, WindowDiff{Window: w.Size.String(), Type: w.Type, Key: w.Key, Start: w.Start,
				WantCount: w.Count, GotCount: g.Count, WantSum: w.Sum, GotSum: g.Value})
		}
	}
	extra, err := unexpectedKeys(ctx, q, want)
	if err != nil {
		return acc, err
	}
	acc.UnexpectedKeys = len(extra)
	for _, d := range extra {
		acc.Duplicated += d.GotCount
		acc.CountedEvents += d.GotCount
	}
	diffs = append(diffs, extra...)
	acc.MismatchedWindows = len(diffs)
	acc.Exact = len(diffs) == 0
	slices.SortStableFunc(diffs, func(a, b WindowDiff) int {
		return cmp.Compare(abs(b.GotCount-b.WantCount), abs(a.GotCount-a.WantCount))
	})
	acc.WorstWindows = diffs[:min(10, len(diffs))]
	if acc.WorstWindows == nil {
		acc.WorstWindows = []WindowDiff{}
	}
	return acc, nil
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// queryAll asks for the count and sum of every window, parallel queries
// in flight; a 503 (InfluxDB unavailable) is retried.
func queryAll(ctx context.Context, q Querier, ws []ledger.Window, parallel int) ([]client.StatsResponse, error) {
	out := make([]client.StatsResponse, len(ws))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for p := 0; p < min(parallel, len(ws)); p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				w := ws[i]
				req := client.StatsRequest{Key: w.Key, Fn: "sum", Range: client.Range{Type: w.Type, From: w.Start, To: w.End(), Window: w.Size}}
				var err error
				for attempt := 0; attempt < 20; attempt++ {
					out[i], err = q.Stats(ctx, req)
					if err == nil || !client.IsUnavailable(err) || ctx.Err() != nil {
						break
					}
					time.Sleep(250 * time.Millisecond)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("checking %s %s %s window %s: %w", w.Size, w.Type, w.Key, w.Start.Format(time.RFC3339), err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range ws {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, ctx.Err()
}

// unexpectedKeys asks, for every (type, window) of the smallest size whose
// ledger has fewer than maxTopN keys, for the top maxTopN keys, and
// returns the keys the ledger does not expect there.
func unexpectedKeys(ctx context.Context, q Querier, want []ledger.Window) ([]WindowDiff, error) {
	if len(want) == 0 {
		return nil, nil
	}
	type tw struct {
		typ   string
		start time.Time
	}
	size := want[0].Size
	keys := map[tw]map[string]bool{}
	for _, w := range want {
		if w.Size != size {
			break
		}
		k := tw{w.Type, w.Start}
		if keys[k] == nil {
			keys[k] = map[string]bool{}
		}
		keys[k][w.Key] = true
	}
	var out []WindowDiff
	for k, ks := range keys {
		if len(ks) >= maxTopN {
			continue
		}
		top, err := q.Top(ctx, client.TopRequest{N: maxTopN, Range: client.Range{Type: k.typ, From: k.start, To: k.start.Add(size), Window: size}})
		if err != nil {
			return nil, fmt.Errorf("top keys of %s %s window %s: %w", size, k.typ, k.start.Format(time.RFC3339), err)
		}
		for _, it := range top.Items {
			if !ks[it.Key] && it.Count != 0 {
				out = append(out, WindowDiff{Window: size.String(), Type: k.typ, Key: it.Key, Start: k.start, GotCount: it.Count})
			}
		}
	}
	slices.SortFunc(out, func(a, b WindowDiff) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Key, b.Key))
	})
	return out, nil
}
