package target

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/countlab/countlab/faults"
	"github.com/countlab/countlab/harness"
	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
)

// runCapabilities are what every run offers faults itself: its own
// traffic sender and event generator (overload, clock-skew).
var runCapabilities = faults.Capabilities{faults.CapTrafficSender: true, faults.CapEventClock: true}

// ForRun is the target as harness/run drives it (run.WithTarget): its
// ingest, readers, controls, recovery probe and semantics, and the check
// of a scenario before the run (CheckScenario). It starts the target's
// links; Close stops them.
func (t *Target) ForRun(ctx context.Context) (*run.Target, error) {
	q, err := t.Querier()
	if err != nil {
		return nil, harness.ConfigError{Err: fmt.Errorf("--target: %w", err)}
	}
	st, err := t.Store()
	if err != nil {
		return nil, harness.ConfigError{Err: fmt.Errorf("--target: %w", err)}
	}
	if err := t.StartLinks(ctx); err != nil { // the pipeline reaches its upstreams through them
		return nil, harness.ConfigError{Err: fmt.Errorf("target %s: %w", t.Spec.Name, err)}
	}
	sem := t.Spec.Semantics
	rt := &run.Target{
		Name:   "target " + t.Spec.Name,
		Banner: t.banner(),
		Ingest: func(sc *scenarios.Scenario) (sim.Transport, func(), error) {
			tr, err := t.Transport(sc.Traffic.Connections)
			if err != nil {
				return nil, nil, harness.ConfigError{Err: fmt.Errorf("--target: %w", err)}
			}
			return tr, func() {}, nil
		},
		Query:          q,
		Store:          st,
		StoreByKey:     true,
		Check:          t.CheckScenario,
		Controls:       t.ctl,
		Windows:        sem.Windows,
		Lateness:       sem.AllowedLateness,
		OutOfOrderness: sem.OutOfOrderness,
	}
	if t.Capabilities()[faults.CapRecoveryProbe] {
		var lp *lagProbe
		if r := t.Spec.Recovery; len(r.ConsumerGroups) > 0 {
			sec, err := r.Security.opts(t.Dir, r.Brokers, "target.recovery.security")
			if err != nil {
				return nil, harness.ConfigError{Err: err}
			}
			if lp, err = newLagProbe(r.Brokers, r.ConsumerGroups, append(sec, t.kafkaOpts...)); err != nil {
				return nil, harness.ConfigError{Err: err}
			}
			t.closers = append(t.closers, lp.close)
		}
		rt.Recovered = t.recovered(lp)
	}
	return rt, nil
}

func (t *Target) banner() string {
	var b strings.Builder
	if k := t.Spec.Ingest.Kafka; k != nil {
		fmt.Fprintf(&b, "ingest Kafka topic %s at %s (%s, key %s, %s partitioner)", k.Topic, strings.Join(k.Brokers, ","), k.Encoding, k.Key, k.Partitioner)
	} else {
		fmt.Fprintf(&b, "ingest %s (%s, answers read as %s)", t.Spec.Ingest.HTTP.URL, t.Spec.Ingest.HTTP.Format, t.Spec.Ingest.HTTP.Response)
	}
	r := t.Spec.Read
	var reads []string
	if r.QueryAPI != nil {
		reads = append(reads, "query API "+r.QueryAPI.URL)
	}
	if r.HTTPJSON != nil {
		reads = append(reads, "HTTP JSON per window")
	}
	if r.InfluxQL != nil {
		reads = append(reads, "InfluxQL "+r.InfluxQL.URL+" database "+r.InfluxQL.Database)
	}
	if r.Flux != nil {
		reads = append(reads, "Flux "+r.Flux.URL)
	}
	sem := t.Spec.Semantics
	ws := make([]string, len(sem.Windows))
	for i, w := range sem.Windows {
		ws[i] = w.String()
	}
	fmt.Fprintf(&b, "\n  read back: %s; %d nodes\n  semantics (replace the scenario's engine section): windows %s, allowed lateness %s, out-of-orderness %s",
		strings.Join(reads, ", "), len(t.Spec.Nodes), strings.Join(ws, ","), sem.AllowedLateness, sem.OutOfOrderness)
	if r.QueryAPI == nil {
		b.WriteString("\n  freshness and query latency not measured: no read.query_api")
	}
	return b.String()
}

// recovered is the recovery probe: every node's health command holds
// and, with lp, the consumer groups' lag is at most the bound
// (recovery.lag_bound, else the run's).
func (t *Target) recovered(lp *lagProbe) func(ctx context.Context, bound int64) bool {
	return func(ctx context.Context, bound int64) bool {
		for _, n := range t.ctl.all {
			if !t.ctl.healthy(ctx, n) {
				return false
			}
		}
		if lp == nil {
			return true
		}
		if b := t.Spec.Recovery.LagBound; b > 0 {
			bound = b
		}
		lag, err := lp.lag(ctx)
		return err == nil && lag <= bound
	}
}

// SLOProbes are the probes a scenario's SLOs need: freshness for
// slo.max_p99_freshness_ms, the query load for slo.max_p99_query_ms.
// The others are measured when the target can serve them, and skipped
// otherwise.
func SLOProbes(sc *scenarios.Scenario) []Probe {
	var out []Probe
	if sc.SLO.MaxP99FreshnessMS > 0 {
		out = append(out, ProbeFreshness)
	}
	if sc.SLO.MaxP99QueryMS > 0 {
		out = append(out, ProbeQueryLoad)
	}
	return out
}

// CheckScenario refuses, as a harness.ConfigError, what of sc the target
// cannot serve (a fault or an SLO's probe it lacks the capability for,
// hostile traffic without per-event answers, the reference engine's
// abort, steady-state and phase checks), then runs every node's health
// command: a target not ready is refused before the run too.
func (t *Target) CheckScenario(sc *scenarios.Scenario) error {
	if sc.Traffic.Hostile.Fraction > 0 && (t.Spec.Ingest.HTTP == nil || t.Spec.Ingest.HTTP.Response != "countlab") {
		return harness.Configf("scenario %s: traffic.hostile needs an ingest that answers per event with the contract's reason codes (ingest.http with response: countlab)", sc.Name)
	}
	if len(sc.Abort) > 0 || sc.SteadyState != nil || len(sc.PhaseSLO) > 0 {
		return harness.Configf("scenario %s: abort, steady_state and phase_slo read the reference engine's metrics, which target %s does not serve; use a scenario without them", sc.Name, t.Spec.Name)
	}
	if err := t.Check(sc.Faults, SLOProbes(sc), runCapabilities); err != nil {
		return harness.ConfigError{Err: err}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := t.Healthy(ctx); err != nil {
		return harness.Configf("target %s is not healthy before the run: %v", t.Spec.Name, err)
	}
	return nil
}
