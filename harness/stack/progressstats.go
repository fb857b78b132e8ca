package stack

import (
	"fmt"

	dto "github.com/prometheus/client_model/go"
)

// PipelineCounts are the events the pipeline set aside so far, from the
// stack's metrics: late (past their window's allowed lateness, to the late
// topic, summed over the engine workers) and dead-lettered (refused by the
// gateway or the engine, committed to the dead-letter topic).
type PipelineCounts struct {
	late, deadLettered float64
}

// PipelineCounts reads the counts from the stack's metrics (zero when
// they cannot be gathered).
func (s *Stack) PipelineCounts() PipelineCounts {
	var c PipelineCounts
	fams, _ := s.metrics.Gather()
	for _, f := range fams {
		switch f.GetName() {
		case "countlab_engine_late_events_total":
			c.late += sumCounter(f)
		case "countlab_dead_letter_events_total": // deadletters.go
			c.deadLettered += sumCounter(f)
		}
	}
	return c
}

func sumCounter(f *dto.MetricFamily) float64 {
	var n float64
	for _, m := range f.Metric {
		n += m.GetCounter().GetValue()
	}
	return n
}

// String is the counts as the progress line shows them.
func (c PipelineCounts) String() string {
	return fmt.Sprintf("late=%.0f dead-lettered=%.0f", c.late, c.deadLettered)
}
