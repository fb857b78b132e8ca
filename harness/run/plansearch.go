package run

import (
	"context"
	"math"
	"time"

	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// trialFunc runs one trial of a cell: a constant offered rate for d
// (phase "ramp" or "search"), and returns it measured and judged.
type trialFunc func(ctx context.Context, phase string, rate float64, d time.Duration) (reports.PlanTrial, error)

// searchResult is a cell's maximum sustainable rate, as found.
type searchResult struct {
	best     float64 // highest sustainable rate (0: none)
	firstBad float64 // lowest rate found not sustainable (0: none)
	capped   bool    // the search's max rate was sustainable
	trials   []reports.PlanTrial
}

// searchMax finds the maximum sustainable rate: a ramp from
// s.StartEventsPerS, multiplying by s.RampFactor (capped at
// s.MaxEventsPerS), until a trial is not sustainable; then a binary
// search between the last sustainable and the first unsustainable rate
// until they are within s.Precision of each other or s.MaxSearchSteps
// trials ran. When the first rate is not sustainable, the binary search
// runs between 0 and it.
func searchMax(ctx context.Context, s scenarios.Search, run trialFunc) (searchResult, error) {
	var res searchResult
	try := func(phase string, rate float64, d time.Duration) (bool, error) {
		t, err := run(ctx, phase, rate, d)
		if err != nil {
			return false, err
		}
		res.trials = append(res.trials, t)
		return t.Sustainable, nil
	}
	good, bad := 0.0, 0.0
	for rate := s.StartEventsPerS; ; rate = math.Min(math.Round(rate*s.RampFactor), s.MaxEventsPerS) {
		ok, err := try("ramp", rate, s.StepDuration)
		if err != nil {
			return res, err
		}
		if !ok {
			bad = rate
			break
		}
		good = rate
		if rate >= s.MaxEventsPerS {
			res.capped = true
			break
		}
	}
	for i := 0; i < s.MaxSearchSteps && bad > 0; i++ {
		if good > 0 && (bad-good)/good <= s.Precision {
			break
		}
		mid := math.Round((good + bad) / 2)
		if mid <= good || mid >= bad {
			break
		}
		ok, err := try("search", mid, s.TrialDuration)
		if err != nil {
			return res, err
		}
		if ok {
			good = mid
		} else {
			bad = mid
		}
	}
	res.best, res.firstBad = good, bad
	return res, nil
}
