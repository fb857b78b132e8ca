package reports

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/sim/oracle"
)

// Accuracy is the comparison of every window with the truth (the
// oracle's windows), both as the query service serves it (Query) and as
// InfluxDB itself stores it (Store). The top-level fields are the combined
// result: the worse of the two comparisons, and Exact only when both are
// exact and the entry points never disagreed with the contract.
type Accuracy struct {
	// ExpectedEvents is the truth's distinct accepted events expected in
	// their windows.
	ExpectedEvents int64 `json:"expected_events"`
	// CountedEvents is what the query service counts over the same windows
	// (the smallest window size).
	CountedEvents int64 `json:"counted_events"`
	// Lost is the events missing from windows that count too few (the
	// larger of query and store).
	Lost int64 `json:"lost"`
	// Duplicated is the events too many in windows that count too many
	// (the larger of query and store), but for Shared.
	Duplicated int64 `json:"duplicated"`
	// Shared is the events too many in windows whose surplus other
	// traffic on the same key and window can explain (CheckConfig.Shared:
	// the log holds at least as many records of other runs there): not
	// exact, but not shown double counted (the larger of query and store).
	Shared int64 `json:"shared,omitempty"`
	// MismatchedWindows is the windows (any size) whose count or sum
	// differs (the larger of query and store).
	MismatchedWindows int `json:"mismatched_windows"`
	// WindowsChecked is the windows compared through the query service.
	WindowsChecked int `json:"windows_checked"`
	// UnexpectedKeys is the (window, key) totals the query service serves
	// that the truth does not have: events counted that were never
	// acknowledged (looked for with a top-N query in every window of the
	// smallest size with fewer than 1000 keys).
	UnexpectedKeys int `json:"unexpected_keys"`
	// LateEvents is the acknowledged events sent after their window
	// closed, not expected before a reconcile.
	LateEvents int64 `json:"late_events"`
	// IncludesLate is set when late events were expected (after a
	// reconcile).
	IncludesLate bool `json:"includes_late"`
	// Exact is true when Query and Store are exact and ContractMismatches
	// is 0.
	Exact bool `json:"exact"`
	// WorstWindows are up to 10 mismatched windows of either comparison,
	// largest difference first.
	WorstWindows []WindowDiff `json:"worst_windows"`
	// Query is the comparison with the query service's answers (zero
	// when QuerySkipped).
	Query WindowCheck `json:"query"`
	// QuerySkipped is set when the system under test has no per-window
	// reader (a store-only target): only Store was compared.
	QuerySkipped bool `json:"query_skipped,omitempty"`
	// Store is the comparison with InfluxDB's stored totals, read back
	// with a Flux query of its own; nil when the store was not checked.
	Store *WindowCheck `json:"store,omitempty"`
	// ContractMismatches is the events on which an entry point disagreed
	// with the contract (acknowledged what it refuses, refused what it
	// accepts, or another reason code); ContractMismatchExamples are up to
	// 10 of them.
	ContractMismatches       int64             `json:"contract_mismatches"`
	ContractMismatchExamples []oracle.Mismatch `json:"contract_mismatch_examples"`
	// Retention is the granularities' check under the retention config
	// (CheckConfig.Retention); its ranges count in Exact.
	Retention *RetentionCheck `json:"retention,omitempty"`
	// Reconcile, when late events were sent, is the check before the
	// reconcile (late events not expected, the engine's late policy) and
	// what the reconcile did; the fields above are then the check after
	// it, with the late events expected.
	Reconcile *ReconcileCheck `json:"reconcile,omitempty"`
	// Attributes are the attribute roll-up checks (views per channel;
	// attrcheck.go), one per attribute; Exact is false when one is not.
	Attributes []AttrCheck `json:"attributes,omitempty"`
	// Rolling, when the run checked windows as they became final, is what
	// that check did (rolling.go); the fields above then account for the
	// windows checked during the run too.
	Rolling *RollingCheck `json:"rolling,omitempty"`
}

// WindowCheck is one source's windows against the truth.
type WindowCheck struct {
	// WindowsChecked is the truth's windows compared.
	WindowsChecked int `json:"windows_checked"`
	// MismatchedWindows is the windows whose count or sum differs,
	// unexpected ones included.
	MismatchedWindows int `json:"mismatched_windows"`
	// UnexpectedWindows is the windows the source has and the truth does
	// not.
	UnexpectedWindows int `json:"unexpected_windows"`
	// CountedEvents is the source's count over the smallest window size.
	CountedEvents int64 `json:"counted_events"`
	// Lost and Duplicated are the events missing from windows that count
	// too few and too many in those that count too many (smallest size).
	Lost       int64 `json:"lost"`
	Duplicated int64 `json:"duplicated"`
	// LostWindows and DuplicatedWindows are the windows (smallest size)
	// that count too few and too many; a window that counts too many by
	// no more than other traffic on it (CheckConfig.Shared) is one of
	// SharedWindows instead, its surplus in Shared, not Duplicated.
	LostWindows       int   `json:"lost_windows"`
	DuplicatedWindows int   `json:"duplicated_windows"`
	SharedWindows     int   `json:"shared_windows,omitempty"`
	Shared            int64 `json:"shared,omitempty"`
	Exact             bool  `json:"exact"`
	// WorstWindows are up to 10 mismatched windows, largest difference
	// first.
	WorstWindows []WindowDiff `json:"worst_windows"`
}

// ReconcileCheck is the accuracy before a reconcile and what it did.
type ReconcileCheck struct {
	// OnTimeExact and OnTimeMismatched are the check of the on-time
	// truth before the reconcile.
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
	// Source is "query" or "store".
	Source string `json:"source"`
	Window string `json:"window"`
	Type   string `json:"type"`
	Key    string `json:"key"`
	// DimSet is the dimension set (store windows only; "" for none).
	DimSet    string    `json:"dims,omitempty"`
	Start     time.Time `json:"start"`
	WantCount int64     `json:"want_count"`
	GotCount  int64     `json:"got_count"`
	WantSum   float64   `json:"want_sum"`
	GotSum    float64   `json:"got_sum"`
}

func (d WindowDiff) String() string {
	dims := ""
	if d.DimSet != "" {
		dims = " {" + d.DimSet + "}"
	}
	return fmt.Sprintf("%s: %s window %s %s %s%s: count %d sum %g, want count %d sum %g", d.Source,
		d.Window, d.Start.Format(time.RFC3339), d.Type, d.Key, dims, d.GotCount, d.GotSum, d.WantCount, d.WantSum)
}

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
	// Store, when set, is InfluxDB read directly: every window is also
	// compared as stored.
	Store Store
	// StoreByKey compares the store with the truth's totals per (size,
	// type, key, window), dimension sets summed (a target's store keeps
	// no dimension sets); false: per dimension set, as countlab's sink
	// stores them.
	StoreByKey bool
	// Shared, when set, is how many records of other traffic (not the
	// truth's: another run's ids) the events log holds on a window's key
	// and window (sim/logtruth's Others): a window that counts more than
	// the truth by no more than that is labelled shared, not double
	// counted. Still not exact: the check cannot tell the two apart.
	Shared func(WindowDiff) int64
	// KeyPrefix, when set, limits the windows looked at for ones the truth
	// does not have, in the store and through the query service, to keys
	// with this prefix (a stack shared with other runs).
	KeyPrefix string
	// Rolling, when set, is the rolling check's result (Roller.Finish):
	// the windows it checked are not in the truth any more, and stored
	// windows before its bounds are not unexpected.
	Rolling *RollingCheck
	// Retention, when set, is the stack's retention config (engine/rollup):
	// windows past their granularity's retention are not expected, and
	// ranges asked with window=auto are checked too (retention.go).
	Retention *rollup.Config
}

// Check compares every (size, type, key, window) the truth expects with
// the query service's count and sum (summed over dimension sets and
// partitions), and, with cfg.Store, every (size, type, key, dimension set,
// window) with what InfluxDB stores, with exact equality. q may be nil
// when cfg.Store is set: the store alone is compared (QuerySkipped).
func Check(ctx context.Context, truth *oracle.Oracle, q Querier, cfg CheckConfig) (Accuracy, error) {
	if q == nil && cfg.Store == nil {
		return Accuracy{}, errors.New("accuracy check: neither a query service nor a store to compare with the truth")
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 16
	}
	st := truth.Stats()
	acc := Accuracy{ExpectedEvents: st.Distinct, LateEvents: st.Late, IncludesLate: cfg.IncludeLate,
		ContractMismatches: st.Mismatches, ContractMismatchExamples: truth.Mismatches()}
	if len(acc.ContractMismatchExamples) > 10 {
		acc.ContractMismatchExamples = acc.ContractMismatchExamples[:10]
	}
	if acc.ContractMismatchExamples == nil {
		acc.ContractMismatchExamples = []oracle.Mismatch{}
	}
	if cfg.IncludeLate {
		acc.ExpectedEvents += st.Late
	}
	deadline := time.Now().Add(cfg.Drain)
	byKey, byDims, store := truth.Windows(oracle.ByKey, cfg.IncludeLate), truth.Windows(oracle.ByDimSet, cfg.IncludeLate), cfg.Store
	if cfg.StoreByKey { // a target's store: totals per key, dimension sets summed
		byDims = truth.Windows(oracle.ByKey, cfg.IncludeLate)
	}
	allByKey := byKey
	if r := cfg.Retention; r != nil { // retention.go
		acc.Retention = newRetentionCheck(r)
		cut := retentionCut(cfg)
		byKey = splitRetained(byKey, r, cut, acc.Retention, true)
		byDims = splitRetained(byDims, r, cut, acc.Retention, false)
		byKey, byDims = completeFirst(byKey, r, acc.Retention), completeFirst(byDims, r, acc.Retention)
		if store != nil {
			store = retainedStore{store, r, cut}
		}
	}
	if q != nil {
		qc, extra, err := checkQuery(ctx, byKey, q, cfg)
		if err != nil {
			return acc, err
		}
		acc.Query = qc
		acc.UnexpectedKeys = extra
	} else {
		acc.QuerySkipped = true
	}
	if store != nil {
		sc, err := checkStore(ctx, byDims, store, cfg.KeyPrefix, deadline, cfg.Rolling.before(), cfg.Shared)
		if err != nil {
			return acc, err
		}
		acc.Store = &sc
	}
	if r := cfg.Retention; r != nil && q != nil {
		if err := checkRanges(ctx, allByKey, q, r, acc.Retention); err != nil {
			return acc, err
		}
		if cfg.Store != nil && len(allByKey) > 0 {
			if err := countStillStored(ctx, cfg.Store, r, cfg.KeyPrefix, allByKey[0].Start, allByKey[len(allByKey)-1].End()+3_600_000, acc.Retention); err != nil {
				return acc, err
			}
		}
	}
	acc.combine()
	if acc.Retention != nil && !acc.Retention.Ranges.Exact {
		acc.Exact = false
	}
	acc.addRolling(cfg.Rolling)
	return acc, nil
}

// SourceCheck is one named comparison, for the report tables.
type SourceCheck struct {
	Name string
	WindowCheck
}

// Sources are the comparisons made: the query service, and the store when
// it was checked.
func (a *Accuracy) Sources() []SourceCheck {
	var out []SourceCheck
	if !a.QuerySkipped {
		out = append(out, SourceCheck{"query service", a.Query})
	}
	if a.Store != nil {
		out = append(out, SourceCheck{"InfluxDB (store, read directly)", *a.Store})
	}
	return out
}

// WriteSources writes a line per comparison and the contract mismatches
// (with examples), each line indented.
func (a *Accuracy) WriteSources(w io.Writer, indent string) {
	for _, s := range a.Sources() {
		fmt.Fprintf(w, "%s%s: %d windows, %d mismatched, %d unexpected, lost %d, duplicated %d, exact=%v\n",
			indent, s.Name, s.WindowsChecked, s.MismatchedWindows, s.UnexpectedWindows, s.Lost, s.Duplicated, s.Exact)
		if s.DuplicatedWindows > 0 {
			fmt.Fprintf(w, "%s  DOUBLE COUNTED: %d windows count %d events too many\n", indent, s.DuplicatedWindows, s.Duplicated)
		}
		if s.SharedWindows > 0 {
			fmt.Fprintf(w, "%s  SHARED: %d windows count %d events more than this run's truth, no more than the records of other traffic the log holds on their keys and windows: not exact, not shown double counted (give each run keys of its own)\n", indent, s.SharedWindows, s.Shared)
		}
		if s.LostWindows > 0 {
			fmt.Fprintf(w, "%s  LOST: %d windows count %d events too few\n", indent, s.LostWindows, s.Lost)
		}
	}
	for _, c := range a.Attributes {
		fmt.Fprintf(w, "%sper %s (attribute roll-up): %d windows (%d key windows split by the per-event join); query service %d mismatched, %d unexpected; InfluxDB %d mismatched, %d unexpected; exact=%v\n",
			indent, c.Attr, c.WindowsChecked, c.SplitKeyWindows, c.Query.Mismatched, c.Query.Unexpected, c.Store.Mismatched, c.Store.Unexpected, c.Exact)
	}
	a.WriteRetention(w, indent) // retention.go
	if a.ContractMismatches > 0 {
		fmt.Fprintf(w, "%scontract: %d events on which an entry point disagreed with the contract\n", indent, a.ContractMismatches)
		for _, m := range a.ContractMismatchExamples {
			fmt.Fprintf(w, "%s  %s: key %q id %q, want %q, got %q\n", indent, m.Kind, m.Key, m.ID, m.Want, m.Got)
		}
	}
}

// combine sets the top-level fields from Query and Store.
func (a *Accuracy) combine() {
	a.WindowsChecked = a.Query.WindowsChecked
	a.CountedEvents = a.Query.CountedEvents
	a.Lost, a.Duplicated, a.MismatchedWindows = a.Query.Lost, a.Query.Duplicated, a.Query.MismatchedWindows
	a.Shared = a.Query.Shared
	a.Exact = a.Query.Exact && a.ContractMismatches == 0
	worst := slices.Clone(a.Query.WorstWindows)
	if a.QuerySkipped && a.Store != nil {
		a.WindowsChecked, a.CountedEvents = a.Store.WindowsChecked, a.Store.CountedEvents
		a.Exact = a.ContractMismatches == 0
	}
	if s := a.Store; s != nil {
		a.Lost, a.Duplicated = max(a.Lost, s.Lost), max(a.Duplicated, s.Duplicated)
		a.Shared = max(a.Shared, s.Shared)
		a.MismatchedWindows = max(a.MismatchedWindows, s.MismatchedWindows)
		a.Exact = a.Exact && s.Exact
		worst = append(worst, s.WorstWindows...)
	}
	sortWorst(worst)
	a.WorstWindows = worst[:min(10, len(worst))]
	if a.WorstWindows == nil {
		a.WorstWindows = []WindowDiff{}
	}
}

func sortWorst(ds []WindowDiff) {
	slices.SortStableFunc(ds, func(a, b WindowDiff) int {
		return cmp.Compare(abs(b.GotCount-b.WantCount), abs(a.GotCount-a.WantCount))
	})
}

// finish sets c's totals from its differences: lost and duplicated (or
// shared, by shared: nil is none) over the smallest size, the worst 10.
func (c *WindowCheck) finish(diffs []WindowDiff, smallest string, shared func(WindowDiff) int64) {
	for _, d := range diffs {
		if d.Window != smallest {
			continue
		}
		if n := d.WantCount - d.GotCount; n > 0 {
			c.Lost += n
			c.LostWindows++
		} else if n < 0 && shared != nil && shared(d) >= -n {
			c.Shared -= n
			c.SharedWindows++
		} else if n < 0 {
			c.Duplicated -= n
			c.DuplicatedWindows++
		}
	}
	c.MismatchedWindows = len(diffs)
	c.Exact = len(diffs) == 0
	sortWorst(diffs)
	c.WorstWindows = diffs[:min(10, len(diffs))]
	if c.WorstWindows == nil {
		c.WorstWindows = []WindowDiff{}
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// sizeName names a window size as the store's win tag does ("60s").
func sizeName(ms int64) string {
	if ms%1000 == 0 {
		return strconv.FormatInt(ms/1000, 10) + "s"
	}
	return (time.Duration(ms) * time.Millisecond).String()
}

func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
