package stack

import (
	"testing"

	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/reports"
)

// TestSinkLagRuleCoversLinger: the sink commits a batch only once it is
// written, so its lag swings by up to the linger while it keeps up; the
// default saturation rule for the sink's lag (reports, which does not
// import the sink) must leave the stack's linger 2 s of room, as the
// engine's rule has.
func TestSinkLagRuleCoversLinger(t *testing.T) {
	r := reports.DefaultSaturationRules
	if want := r.EngineLagS + sink.DefaultLinger.Seconds(); r.SinkLagS < want {
		t.Fatalf("DefaultSaturationRules.SinkLagS %v s < the engine's %v s + the sink's linger %v: a sink that keeps up would look saturated",
			r.SinkLagS, r.EngineLagS, sink.DefaultLinger)
	}
}
