package reconcile

import (
	"math"
	"strings"
	"testing"

	"github.com/countlab/countlab/engine/event"
)

// TestNotFinite: a recounted total that is not finite (impossible with the
// validator's |value| <= 2^53, but an older engine accepted more) is a
// clear error naming the window, never an unencodable result.
func TestNotFinite(t *testing.T) {
	v, err := event.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	c := newCounter(v, nil, 1, []int64{60_000}, 0, 1<<62)
	for _, x := range []float64{math.MaxFloat64, math.MaxFloat64} {
		c.ev = event.Event{ID: "i" + string(rune('a'+len(c.seen[0]))), Key: "k", Type: "VIEW", Value: x, TS: 120_000}
		c.count(0)
	}
	if c.finite == nil || !strings.Contains(c.finite.Error(), "60000|VIEW|k||0|120000") || !strings.Contains(c.finite.Error(), "+Inf") {
		t.Fatalf("error %v", c.finite)
	}
}
