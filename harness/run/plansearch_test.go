package run

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// TestSearchMax runs the search against a fake trial function that is
// sustainable up to X and not above: it must find X within the
// precision, with good <= X < bad, and stay within its trial budget.
func TestSearchMax(t *testing.T) {
	s := scenarios.Search{StartEventsPerS: 1000, MaxEventsPerS: 1e6, RampFactor: 2, StepDuration: time.Second,
		TrialDuration: 2 * time.Second, Precision: 0.05, MaxSearchSteps: 20}
	f := func(name string, x float64, s scenarios.Search, wantCapped bool) {
		t.Helper()
		n := 0
		res, err := searchMax(context.Background(), s, func(_ context.Context, phase string, rate float64, d time.Duration) (reports.PlanTrial, error) {
			n++
			if (phase == "ramp") != (d == s.StepDuration) {
				t.Errorf("%s: phase %s with duration %s", name, phase, d)
			}
			return reports.PlanTrial{Phase: phase, OfferedEventsPerS: rate, Sustainable: rate <= x}, nil
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.capped != wantCapped {
			t.Errorf("%s: capped %v", name, res.capped)
		}
		if len(res.trials) != n || n > 40 {
			t.Errorf("%s: %d trials recorded of %d run", name, len(res.trials), n)
		}
		if wantCapped {
			if res.best != s.MaxEventsPerS || res.firstBad != 0 {
				t.Errorf("%s: best %v firstBad %v", name, res.best, res.firstBad)
			}
			return
		}
		if res.best > x || res.firstBad <= x {
			t.Errorf("%s: best %v, first bad %v: X=%v not between", name, res.best, res.firstBad, x)
		}
		if res.best > 0 && (x-res.best)/res.best > s.Precision {
			t.Errorf("%s: best %v not within %v of X=%v", name, res.best, s.Precision, x)
		}
		for _, tr := range res.trials {
			if tr.Sustainable != (tr.OfferedEventsPerS <= x) {
				t.Errorf("%s: trial %+v", name, tr)
			}
		}
	}
	f("mid range", 37000, s, false)
	f("exactly a ramp rate", 16000, s, false)
	f("just above the start", 1001, s, false)
	f("below the start", 300, s, false)
	f("above the max", 2e6, s, true)
	coarse := s
	coarse.RampFactor, coarse.Precision = 1.5, 0.2
	f("coarse", 123456, coarse, false)
	// A budget of 2 search steps: still good <= X < bad, precision not
	// promised.
	few := s
	few.MaxSearchSteps = 0
	res, _ := searchMax(context.Background(), few, func(_ context.Context, phase string, rate float64, _ time.Duration) (reports.PlanTrial, error) {
		return reports.PlanTrial{OfferedEventsPerS: rate, Sustainable: rate <= 5000}, nil
	})
	if res.best != 4000 || res.firstBad != 8000 || len(res.trials) != 4 {
		t.Errorf("no search steps: best %v bad %v, %d trials", res.best, res.firstBad, len(res.trials))
	}
	boom := errors.New("stack down")
	_, err := searchMax(context.Background(), s, func(context.Context, string, float64, time.Duration) (reports.PlanTrial, error) {
		return reports.PlanTrial{}, boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("error not returned: %v", err)
	}
}
