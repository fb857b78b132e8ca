package run_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/scenarios"
)

// TestRunInProcess runs the shipped selfcheck scenario, shortened, as a Go
// test would: a stack it starts itself (real kfake broker, real influxd),
// handed to the runner as its target (run.WithTarget), with work beside
// the traffic (run.WithDuring); every window must be exact.
func TestRunInProcess(t *testing.T) {
	srv := influxdtest.Start(t)
	sc, err := scenarios.Lookup("selfcheck")
	if err != nil {
		t.Fatal(err)
	}
	sc.Duration, sc.Traffic.Keys.Prefix = 4*time.Second, "inproc-"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := stack.New(ctx, stack.Partitions(2), stack.Windows(sc.Engine.Windows...), stack.Influx(srv.Config()))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tg, err := run.StackTarget(st, "")
	if err != nil {
		t.Fatal(err)
	}
	var during atomic.Int64
	r, err := run.New(run.WithTarget(tg), run.WithDuring(func(ctx context.Context, l *run.Live) error {
		<-ctx.Done() // the traffic ended
		during.Store(int64(l.Truth.Stats().Distinct))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Accuracy
	if !rep.Pass || !a.Exact || a.ExpectedEvents < 1000 || a.CountedEvents != a.ExpectedEvents || a.Store == nil || !a.Store.Exact {
		t.Fatalf("pass=%v failures %v accuracy %+v", rep.Pass, run.Failures(rep), a)
	}
	if rep.Series == nil || len(rep.Series.Achieved) < 3 || rep.CPU == nil || len(rep.Resources) == 0 {
		t.Errorf("probes: series %v, cpu %v, resources %v", rep.Series, rep.CPU, rep.Resources)
	}
	if n := during.Load(); n <= 0 || n > int64(a.ExpectedEvents) {
		t.Errorf("the During work saw %d events in the truth (expected %d at the end)", n, a.ExpectedEvents)
	}
	t.Logf("%d events exact in %d windows", a.CountedEvents, a.WindowsChecked)
}
