package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// scaleTarget is a fakeTarget that also has the broker process and the
// worker scaler.
type scaleTarget struct {
	fakeTarget
	next    int
	failAdd int // AddWorker fails on this call (1-based; 0: never)
}

func (s *scaleTarget) KillBroker() error                   { return s.add("killbroker") }
func (s *scaleTarget) RestartBroker(context.Context) error { return s.add("restartbroker") }
func (s *scaleTarget) AddWorker(context.Context) (int, error) {
	s.mu.Lock()
	s.next++
	id := 1 + s.next // workers 0 and 1 are the fake's own
	fail := s.next == s.failAdd
	s.mu.Unlock()
	if fail {
		return 0, errors.New("no room")
	}
	return id, s.add(fmt.Sprintf("add%d", id))
}
func (s *scaleTarget) RemoveWorker(_ context.Context, id int) error {
	return s.add(fmt.Sprintf("remove%d", id))
}
func (s *scaleTarget) StopWorker(_ context.Context, i int) error {
	return s.add(fmt.Sprintf("stop%d", i))
}

var (
	_ BrokerProcess = (*scaleTarget)(nil)
	_ WorkerScaler  = (*scaleTarget)(nil)
)

func TestRebalanceParams(t *testing.T) {
	f := func(s Spec, want string) {
		t.Helper()
		err := s.Validate()
		switch {
		case want == "" && err != nil:
			t.Errorf("%+v: %v", s, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%+v: got %v, want an error with %q", s, err, want)
		}
	}
	sec := time.Second
	f(Spec{Kind: "broker-crash", Start: sec, Duration: 5 * sec}, "")
	f(Spec{Kind: "broker-crash", Duration: sec, Params: map[string]any{"graceful": true}}, "unknown param graceful")
	f(Spec{Kind: "worker-add", Duration: sec}, "")
	f(Spec{Kind: "worker-add", Duration: sec, Params: map[string]any{"count": 3}}, "")
	f(Spec{Kind: "worker-add", Duration: sec, Params: map[string]any{"count": 0}}, "param count: must be 1..16")
	f(Spec{Kind: "worker-add", Duration: sec, Params: map[string]any{"count": 17}}, "param count: must be 1..16")
	f(Spec{Kind: "worker-add", Duration: sec, Params: map[string]any{"count": 1.5}}, "param count: want a whole number")
	f(Spec{Kind: "worker-add", Duration: sec, Params: map[string]any{"worker": 1}}, "unknown param worker")
	f(Spec{Kind: "worker-remove", Duration: sec, Params: map[string]any{"worker": 1}}, "")
	f(Spec{Kind: "worker-remove", Duration: sec, Params: map[string]any{"worker": -1}}, "param worker: must be >= 0")
	f(Spec{Kind: "worker-remove", Duration: sec, Params: map[string]any{"worker": "one"}}, "param worker: want a whole number")
	f(Spec{Kind: "worker-remove"}, "duration must be > 0")
	for _, k := range []string{"broker-crash", "worker-add", "worker-remove"} {
		if !slices.Contains(Kinds(), k) || ParamsDoc(k) == "" || !strings.Contains(KindDoc(), k+": ") {
			t.Errorf("kind %s is not listed and documented", k)
		}
	}
}

// TestRebalanceFaults injects and heals each kind against a target with
// the optional interfaces, and against one without them.
func TestRebalanceFaults(t *testing.T) {
	ctx := context.Background()
	f := func(tg Target, kind string, p map[string]any, want []string, wantErr error) {
		t.Helper()
		flt, err := New(Spec{Kind: kind, Duration: time.Second, Params: p})
		if err != nil {
			t.Fatal(err)
		}
		ierr := flt.Inject(ctx, tg)
		if wantErr != nil {
			// A Schedule does not heal a fault that was not injected.
			if !errors.Is(ierr, wantErr) {
				t.Errorf("%s: inject %v; want %v", kind, ierr, wantErr)
			}
			return
		}
		herr := flt.Heal(ctx, tg)
		if ierr != nil || herr != nil {
			t.Errorf("%s: inject %v, heal %v", kind, ierr, herr)
		}
		var calls []string
		switch x := tg.(type) {
		case *scaleTarget:
			calls = x.calls
		case *fakeTarget:
			calls = x.calls
		}
		if !slices.Equal(calls, want) {
			t.Errorf("%s: calls %v, want %v", kind, calls, want)
		}
	}
	f(&scaleTarget{}, "broker-crash", nil, []string{"killbroker", "restartbroker"}, nil)
	f(&scaleTarget{}, "worker-add", nil, []string{"add2", "remove2"}, nil)
	f(&scaleTarget{}, "worker-add", map[string]any{"count": 3}, []string{"add2", "add3", "add4", "remove2", "remove3", "remove4"}, nil)
	f(&scaleTarget{}, "worker-remove", map[string]any{"worker": 1}, []string{"stop1", "restart1"}, nil)
	f(&fakeTarget{}, "broker-crash", nil, nil, ErrUnsupported)
	f(&fakeTarget{}, "worker-add", nil, nil, ErrUnsupported)
	f(&fakeTarget{}, "worker-remove", nil, nil, ErrUnsupported)

	// A worker index the engine does not have; an add that fails half way
	// removes what it added when healed.
	flt, _ := New(Spec{Kind: "worker-remove", Duration: time.Second, Params: map[string]any{"worker": 2}})
	if err := flt.Inject(ctx, &scaleTarget{}); err == nil || !strings.Contains(err.Error(), "has 2 workers") {
		t.Errorf("worker-remove of worker 2 of 2: %v", err)
	}
	tg := &scaleTarget{failAdd: 2}
	flt, _ = New(Spec{Kind: "worker-add", Duration: time.Second, Params: map[string]any{"count": 3}})
	if err := flt.Inject(ctx, tg); err == nil || !strings.Contains(err.Error(), "no room") {
		t.Errorf("failing add: %v", err)
	}
	if err := flt.Heal(ctx, tg); err != nil || !slices.Equal(tg.calls, []string{"add2", "remove2"}) {
		t.Errorf("heal after a partial add: %v, calls %v", err, tg.calls)
	}
}

// TestScheduleBrokerCrash runs broker-crash through a Schedule: the
// record has the injection, the heal and the recovery.
func TestScheduleBrokerCrash(t *testing.T) {
	tg := &scaleTarget{}
	s := &Schedule{
		Specs:  []Spec{{Kind: "broker-crash", Start: 20 * time.Millisecond, Duration: 50 * time.Millisecond}},
		Target: tg,
	}
	recs := s.Run(context.Background())
	r := recs[0]
	if r.Error != "" || r.InjectedAt.IsZero() || !r.HealedAt.After(r.InjectedAt) || r.RecoveryS != 0 || r.Name != "broker-crash-0" {
		t.Fatalf("record %+v", r)
	}
	if !slices.Equal(tg.calls, []string{"killbroker", "restartbroker"}) {
		t.Fatalf("calls %v", tg.calls)
	}
}
