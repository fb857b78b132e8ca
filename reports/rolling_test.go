package reports

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/sim/oracle"
)

// rollingPair is the same traffic fed to two truths: one rolled, one
// kept whole (what the read side holds, for the fakes).
func rollingPair(t *testing.T) (rolled, whole *oracle.Oracle, base int64) {
	t.Helper()
	cfg := oracle.Config{Windows: []time.Duration{10 * time.Second, time.Minute}, IdentityGeneration: 5 * time.Second}
	rolled, _ = oracle.New(cfg)
	whole, _ = oracle.New(cfg)
	return rolled, whole, int64(1_700_000_040_000)
}

// feed sends second s of the traffic (20 events, 5 keys, dimensions) to
// both truths.
func feed(ts []*oracle.Oracle, base int64, s int) {
	for j := range 20 {
		i := s*20 + j
		e := oracle.Event{ID: "x" + strconv.Itoa(i), Key: "k" + strconv.Itoa(i%5), Type: []string{"VIEW", "CLICK"}[i%2],
			Value: float64(i % 10), HasValue: true, TS: base + int64(s)*1000 + int64(j), Dims: []oracle.Dim{{Name: "d", Value: strconv.Itoa(i % 3)}}}
		for _, o := range ts {
			o.Add(oracle.Sent{Event: &e, Ref: base + int64(s)*1000, Acked: true})
		}
	}
}

// runRolling feeds 3 minutes, stepping the roller every 5 s of that
// time, and runs the end-of-run check.
func runRolling(t *testing.T, r *Roller, rolled, whole *oracle.Oracle, base int64, q Querier, st Store) Accuracy {
	t.Helper()
	ctx := context.Background()
	for s := range 180 {
		feed([]*oracle.Oracle{rolled, whole}, base, s)
		if s%5 == 4 {
			r.Step(ctx, time.UnixMilli(base+int64(s)*1000))
			rolled.ForgetBefore(time.UnixMilli(base + int64(s-30)*1000))
		}
	}
	rc := r.Finish()
	acc, err := Check(ctx, rolled, q, CheckConfig{Store: st, Rolling: &rc})
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

// TestRollingExact: a pipeline that is right all along: most windows are
// checked during the run and dropped, the rest at the end, every window
// accounted for once, and the identities held stay bounded.
func TestRollingExact(t *testing.T) {
	rolled, whole, base := rollingPair(t)
	q := newLazyQuery(whole)
	st := &lazyStore{o: whole}
	r := NewRoller(rolled, q, RollingConfig{Lateness: 2 * time.Second, OutOfOrderness: time.Second, Settle: time.Second, Margin: 10 * time.Second, Store: st})
	acc := runRolling(t, r, rolled, whole, base, q, st)
	rc := acc.Rolling
	all := len(whole.Windows(oracle.ByKey, false))
	if !acc.Exact || rc == nil || rc.WindowsChecked == 0 || acc.WindowsChecked != all || acc.Store.WindowsChecked != len(whole.Windows(oracle.ByDimSet, false)) {
		t.Fatalf("accuracy %+v rolling %+v (want %d windows)", acc, rc, all)
	}
	if acc.CountedEvents != 180*20 || rc.MismatchedWindows != 0 || rc.AfterTaken != 0 || rc.Forgotten == 0 {
		t.Fatalf("counted %d, rolling %+v", acc.CountedEvents, rc)
	}
	if left := rolled.Stats(); left.Windows >= all/2 || left.Identities > 40*20 {
		t.Fatalf("the rolled truth still holds %d of %d windows, %d identities", left.Windows, all, left.Identities)
	}
	t.Logf("%d windows: %d checked during the run, %d at the end", all, rc.WindowsChecked, all-rc.WindowsChecked)
}

// TestRollingMismatch: a window that stays wrong past the margin is a
// mid-run mismatch (OnMismatch told), its truth goes back and the end
// check finds it again; one that heals within the margin is checked; a
// stored window the truth lacks is final.
func TestRollingMismatch(t *testing.T) {
	rolled, whole, base := rollingPair(t)
	q := newLazyQuery(whole)
	q.off["k3"] = 1 // k3 always one too many through the query service
	ghost := oracle.Window{WindowKey: oracle.WindowKey{Size: 10000, Start: base + 30000, Type: "VIEW", Key: "ghost"}, Total: oracle.Total{Count: 1, Sum: 1}}
	st := &lazyStore{o: whole, extra: []oracle.Window{ghost}}
	var told atomic.Int32
	r := NewRoller(rolled, q, RollingConfig{Lateness: 2 * time.Second, OutOfOrderness: time.Second, Settle: time.Second, Margin: 10 * time.Second, Store: st,
		OnMismatch: func(WindowDiff) { told.Add(1) }})
	acc := runRolling(t, r, rolled, whole, base, q, st)
	rc := acc.Rolling
	if acc.Exact || rc.MismatchedWindows == 0 || rc.UnexpectedWindows != 1 || rc.FirstMismatchAtS == 0 || len(rc.WorstWindows) == 0 {
		t.Fatalf("accuracy %+v rolling %+v", acc, rc)
	}
	// Every k3 window is wrong at the end too (its truth was put back), and
	// the ghost counts as a mismatch.
	k3, k3small := 0, int64(0)
	for _, w := range whole.Windows(oracle.ByKey, false) {
		if w.Key == "k3" {
			k3++
			if w.Size == 10000 {
				k3small++
			}
		}
	}
	if acc.Query.MismatchedWindows != k3 || acc.MismatchedWindows != k3+1 || acc.Query.CountedEvents != 180*20+k3small {
		t.Fatalf("query mismatched %d (want %d k3 windows), all %d: %v", acc.Query.MismatchedWindows, k3, acc.MismatchedWindows, acc.Query.WorstWindows)
	}
	time.Sleep(50 * time.Millisecond) // OnMismatch runs on its own goroutine
	if told.Load() != 1 {
		t.Fatalf("OnMismatch called %d times", told.Load())
	}

	// Healing: the difference is gone after a few looks (the pipeline was
	// behind): checked during the run, no mismatch.
	rolled, whole, base = rollingPair(t)
	q = newLazyQuery(whole)
	q.off["k1"], q.healAt = 5, 60
	st = &lazyStore{o: whole}
	r = NewRoller(rolled, q, RollingConfig{Lateness: 2 * time.Second, OutOfOrderness: time.Second, Settle: time.Second, Margin: time.Minute, Store: st})
	acc = runRolling(t, r, rolled, whole, base, q, st)
	if !acc.Exact || acc.Rolling.MismatchedWindows != 0 || acc.Rolling.WindowsChecked == 0 || acc.CountedEvents != 180*20 {
		t.Fatalf("healing: accuracy %+v rolling %+v", acc, acc.Rolling)
	}
}

// lazyQuery answers like fakeQuery from a whole truth at the time of the
// query.
type lazyQuery struct {
	*fakeQuery
	o *oracle.Oracle
	n int64
}

func newLazyQuery(o *oracle.Oracle) *lazyQuery { return &lazyQuery{fakeQuery: fakeFor(o), o: o} }

func (l *lazyQuery) refresh() {
	if st := l.o.Stats(); st.Distinct != l.n {
		f := fakeFor(l.o)
		l.mu.Lock()
		l.truth, l.n = f.truth, st.Distinct
		l.mu.Unlock()
	}
}

func (l *lazyQuery) Stats(ctx context.Context, r client.StatsRequest) (client.StatsResponse, error) {
	l.refresh()
	return l.fakeQuery.Stats(ctx, r)
}

func (l *lazyQuery) Top(ctx context.Context, r client.TopRequest) (client.TopResponse, error) {
	l.refresh()
	return l.fakeQuery.Top(ctx, r)
}

// lazyStore answers from a whole truth at the time of the read.
type lazyStore struct {
	o     *oracle.Oracle
	extra []oracle.Window
}

func (s *lazyStore) Windows(ctx context.Context, from, to int64) ([]oracle.Window, error) {
	return fakeStore{append(s.o.Windows(oracle.ByDimSet, false), s.extra...)}.Windows(ctx, from, to)
}

// TestRollingFrontier: windows are final relative to the traffic's
// frontier (a sender behind its schedule), not to the look's time.
func TestRollingFrontier(t *testing.T) {
	rolled, whole, base := rollingPair(t)
	feed([]*oracle.Oracle{rolled, whole}, base, 0)
	frontier := time.UnixMilli(base + 1000)
	r := NewRoller(rolled, newLazyQuery(whole), RollingConfig{Lateness: time.Second, Settle: time.Second, Frontier: func() time.Time { return frontier }})
	r.Step(context.Background(), time.UnixMilli(base+10*60000)) // ten minutes later, the sender still at 1 s
	if rc := r.Finish(); rc.WindowsChecked != 0 || rc.HandedToEnd != 0 {
		t.Fatalf("took windows past the frontier: %+v", rc)
	}
	if n := len(rolled.Windows(oracle.ByKey, false)); n != len(whole.Windows(oracle.ByKey, false)) {
		t.Fatalf("%d windows left", n)
	}
}
