package stack

import (
	"context"
	"runtime/pprof"

	"github.com/countlab/countlab/reports"
)

// LabelStage labels the calling goroutine with the pprof label
// reports.StageLabel=stage: every goroutine it starts from now on inherits
// the label, and so CPU profile samples of them are attributed to stage
// (harness/probe's CPU meter reads them). UnlabelStage clears it.
func LabelStage(stage string) {
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels(reports.StageLabel, stage)))
}

// UnlabelStage clears the calling goroutine's labels.
func UnlabelStage() { pprof.SetGoroutineLabels(context.Background()) }
