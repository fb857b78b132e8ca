package main

import (
	"time"

	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// abortedDrain bounds the drain of an aborted run: the check still runs,
// but an unhealthy pipeline is not waited for.
const abortedDrain = 20 * time.Second

// drainTimeout is how long the accuracy check waits for the pipeline.
func (r *scenarioRun) drainTimeout() time.Duration {
	if r.mon != nil && r.mon.isAborted() {
		return min(r.sc.DrainTimeout, abortedDrain)
	}
	return r.sc.DrainTimeout
}

// finishProbes puts the live probes' verdicts into rep (after
// EvaluateSLO): the abort, the steady state, each fault's phases with the
// phase SLOs; any of them failing fails the report.
func (r *scenarioRun) finishProbes(rep *reports.Report) {
	if r.mon == nil {
		return
	}
	aborted, steady, samples := r.mon.result()
	rep.Aborted, rep.SteadyState = aborted, steady
	window, _, _ := r.sc.SteadyStateChecks()
	if window == 0 {
		window = scenarios.DefaultSteadyWindow
	}
	var fws []reports.FaultWindow
	for _, f := range r.faultRecs {
		fws = append(fws, reports.FaultWindow{Name: f.Name, Kind: f.Kind, Injected: f.InjectedAt, Healed: f.HealedAt, RecoveryS: f.RecoveryS})
	}
	rep.EvaluatePhases(samples, fws, window, phaseBounds(r.sc))
	for _, s := range rep.SLO {
		rep.Pass = rep.Pass && s.Pass
	}
	if aborted != nil || (steady != nil && !steady.Pass) {
		rep.Pass = false
	}
	rep.WritePhases(r.out)
}

// planted are run's hidden planted regressions (TEST ONLY), for showing
// that the gate catches them.
type planted struct {
	queryDelayMS int
	slowGateway  bool
}

// takePlantedRegressions removes the hidden --plant-query-delay-ms=N and
// --plant-slow-gateway flags from args.
func takePlantedRegressions(args []string) ([]string, planted, error) {
	var p planted
	args, ms, err := takeHiddenInt(args, plantQueryDelayFlag)
	if err != nil {
		return nil, p, err
	}
	args, slow, err := takeHiddenBool(args, plantSlowGatewayFlag)
	if err != nil {
		return nil, p, err
	}
	p.queryDelayMS, p.slowGateway = ms, slow
	return args, p, nil
}

// apply changes the scenario (before it is validated).
func (p planted) apply(sc *scenarios.Scenario) {
	if p.slowGateway {
		halveGateway(sc)
	}
}

// applyStack changes the stack.
func (p planted) applyStack(sf *stackFlags) {
	if p.queryDelayMS > 0 {
		sf.queryMiddleware = delayHandler(time.Duration(p.queryDelayMS) * time.Millisecond)
	}
}
