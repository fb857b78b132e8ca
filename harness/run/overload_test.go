package run

import (
	"math"
	"testing"
	"time"

	"github.com/countlab/countlab/scenarios"
)

// TestOfferedRate: the offered rate and events of a scenario include its
// overload faults' factors over their spans.
func TestOfferedRate(t *testing.T) {
	sc, err := scenarios.Lookup("overload")
	if err != nil {
		t.Fatal(err)
	}
	r := offeredRate(sc)
	for _, c := range []struct {
		at   time.Duration
		want float64
	}{{5 * time.Second, 400}, {10 * time.Second, 1500}, {19 * time.Second, 1500}, {20 * time.Second, 400}} {
		if got := r.At(c.at); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("offered rate at %s: %v, want %v", c.at, got, c.want)
		}
	}
	if n, want := offeredEvents(sc), 400*30.0+1500*10; math.Abs(n-want) > 0.001*want {
		t.Errorf("offered events %.0f, want %.0f", n, want)
	}
	sc.Faults = nil
	if n := offeredEvents(sc); math.Abs(n-400*40) > 1 {
		t.Errorf("offered events without faults %.0f, want 16000", n)
	}
}
