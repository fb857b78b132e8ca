package run

import (
	"time"

	"github.com/countlab/countlab/harness/probe"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// abortedDrain bounds the drain of an aborted run: the check still runs,
// but an unhealthy pipeline is not waited for.
const abortedDrain = 20 * time.Second

// drainTimeout is how long the accuracy check waits for the pipeline.
func (r *scenarioRun) drainTimeout() time.Duration {
	if r.probes != nil && r.probes.Aborted() {
		return min(r.sc.DrainTimeout, abortedDrain)
	}
	return r.sc.DrainTimeout
}

// finishProbes puts the live probes' verdicts into rep (after
// EvaluateSLO): the abort, the steady state, each fault's phases with the
// phase SLOs; any of them failing fails the report.
func (r *scenarioRun) finishProbes(rep *reports.Report) {
	if r.probes == nil {
		return
	}
	aborted, steady, samples := r.probes.Verdicts()
	rep.Aborted, rep.SteadyState = aborted, steady
	window, _, _ := r.sc.SteadyStateChecks()
	if window == 0 {
		window = scenarios.DefaultSteadyWindow
	}
	var fws []reports.FaultWindow
	for _, f := range r.faultRecs {
		fws = append(fws, reports.FaultWindow{Name: f.Name, Kind: f.Kind, Injected: f.InjectedAt, Healed: f.HealedAt, RecoveryS: f.RecoveryS})
	}
	rep.EvaluatePhases(samples, fws, window, probe.PhaseBounds(r.sc))
	for _, s := range rep.SLO {
		rep.Pass = rep.Pass && s.Pass
	}
	if aborted != nil || (steady != nil && !steady.Pass) {
		rep.Pass = false
	}
	rep.WritePhases(r.out)
}
