package faults

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// trafficTarget is a fakeTarget with a traffic sender and generator: it
// records the load factor and clock settings it is given, and throttles
// 10 sends per call while the factor is above 1.
type trafficTarget struct {
	fakeTarget
	mu        sync.Mutex
	factor    float64
	throttled int64
}

func (t *trafficTarget) SetLoadFactor(f float64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.factor = f
	return t.add(fmt.Sprintf("factor %v", f))
}

func (t *trafficTarget) Throttled() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.factor > 1 {
		t.throttled += 10
	}
	return t.throttled
}

func (t *trafficTarget) SetClockSkew(share float64, offset time.Duration) error {
	return t.add(fmt.Sprintf("skew %v %v", share, offset))
}

func (t *trafficTarget) SetLateBurst(share float64) error {
	return t.add(fmt.Sprintf("late %v", share))
}

func TestTrafficFaults(t *testing.T) {
	f := func(s Spec, wantCalls string, wantHits int) {
		t.Helper()
		if err := s.Validate(); err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		ft, _ := New(s)
		tt := &trafficTarget{}
		ctx := context.Background()
		if err := ft.Inject(ctx, tt); err != nil {
			t.Fatalf("%s inject: %v", s.Kind, err)
		}
		tt.Throttled() // the sender sees 429s meanwhile
		if err := ft.Heal(ctx, tt); err != nil {
			t.Fatalf("%s heal: %v", s.Kind, err)
		}
		if got := strings.Join(tt.calls, "; "); got != wantCalls {
			t.Errorf("%s: calls %q, want %q", s.Kind, got, wantCalls)
		}
		h, _ := ft.(interface{ Hits() int })
		if wantHits > 0 && (h == nil || h.Hits() != wantHits) {
			t.Errorf("%s: hits %v, want %d", s.Kind, h, wantHits)
		}
		// A target without the capability: ErrUnsupported.
		if err := ft.Inject(ctx, &fakeTarget{}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s on a target without traffic: %v, want ErrUnsupported", s.Kind, err)
		}
	}
	sec := time.Second
	f(Spec{Kind: "overload", Duration: sec}, "factor 3; factor 1", 10)
	f(Spec{Kind: "overload", Duration: sec, Params: map[string]any{"factor": 1.5}}, "factor 1.5; factor 1", 10)
	f(Spec{Kind: "clock-skew", Duration: sec}, "skew 0.5 5s; skew 0 0s", 0)
	f(Spec{Kind: "clock-skew", Duration: sec, Params: map[string]any{"share": 0.25, "offset": "-3s"}}, "skew 0.25 -3s; skew 0 0s", 0)
	f(Spec{Kind: "late-burst", Duration: sec, Params: map[string]any{"share": 0.1}}, "late 0.1; late 0", 0)
}

func TestTrafficFaultParams(t *testing.T) {
	f := func(s Spec, want string) {
		t.Helper()
		s.Duration = time.Second
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: got %v, want an error with %q", s, err, want)
		}
	}
	f(Spec{Kind: "overload", Params: map[string]any{"factor": 0}}, "param factor")
	f(Spec{Kind: "overload", Params: map[string]any{"factor": 1000}}, "param factor")
	f(Spec{Kind: "overload", Params: map[string]any{"rate": 2}}, "unknown param rate")
	f(Spec{Kind: "clock-skew", Params: map[string]any{"offset": "soon"}}, "param offset")
	f(Spec{Kind: "clock-skew", Params: map[string]any{"offset": "0s"}}, "param offset")
	f(Spec{Kind: "clock-skew", Params: map[string]any{"offset": "2h"}}, "param offset")
	f(Spec{Kind: "clock-skew", Params: map[string]any{"share": 1.2}}, "param share")
	f(Spec{Kind: "late-burst", Params: map[string]any{"share": 0}}, "param share")
	if f := LoadFactor(Spec{Kind: "overload", Duration: time.Second, Params: map[string]any{"factor": 2.5}}); f != 2.5 {
		t.Errorf("LoadFactor = %v, want 2.5", f)
	}
	if f := LoadFactor(Spec{Kind: "overload", Duration: time.Second}); f != 3 {
		t.Errorf("LoadFactor = %v, want the default 3", f)
	}
	if f := LoadFactor(Spec{Kind: "late-burst", Duration: time.Second}); f != 1 {
		t.Errorf("LoadFactor of a late-burst = %v, want 1", f)
	}
	if d := ClockOffset(Spec{Kind: "clock-skew", Duration: time.Second, Params: map[string]any{"offset": "-7s"}}); d != -7*time.Second {
		t.Errorf("ClockOffset = %s, want -7s", d)
	}
	if d := ClockOffset(Spec{Kind: "overload", Duration: time.Second}); d != 0 {
		t.Errorf("ClockOffset of an overload = %s", d)
	}
}
