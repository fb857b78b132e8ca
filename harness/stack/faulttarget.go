package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/faults"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// stackTarget is the faults.Target of a running stack.
type stackTarget struct{ s *stack }

var _ faults.Target = stackTarget{}

func (t stackTarget) Workers() int { return t.s.nWorkers }

func (t stackTarget) worker(i int) (*workerProc, error) {
	if len(t.s.engines) == 0 {
		return nil, fmt.Errorf("in-process engine workers cannot be killed or paused (run with --engine-procs): %w", faults.ErrUnsupported)
	}
	if i < 0 || i >= len(t.s.engines) {
		return nil, fmt.Errorf("no engine worker %d (0..%d)", i, len(t.s.engines)-1)
	}
	return t.s.engines[i], nil
}

func (t stackTarget) KillWorker(_ context.Context, i int) error {
	p, err := t.worker(i)
	if err != nil {
		return err
	}
	return p.kill()
}

func (t stackTarget) RestartWorker(ctx context.Context, i int) error {
	p, err := t.worker(i)
	if err != nil {
		return err
	}
	return p.start(ctx)
}

func (t stackTarget) PauseWorker(i int) error {
	p, err := t.worker(i)
	if err != nil {
		return err
	}
	return p.signal(sigStopProc)
}

func (t stackTarget) ResumeWorker(i int) error {
	p, err := t.worker(i)
	if err != nil {
		return err
	}
	return p.signal(sigContProc)
}

func (t stackTarget) KafkaCluster() *kfake.Cluster {
	if t.s.broker == nil {
		return nil
	}
	return t.s.broker.Cluster()
}

func (t stackTarget) KillSink() error {
	if t.s.influxd == nil {
		return fmt.Errorf("sink-outage needs the managed influxd (no --influx-url): %w", faults.ErrUnsupported)
	}
	return t.s.influxd.Kill()
}

func (t stackTarget) RestartSink(ctx context.Context) error {
	if t.s.influxd == nil {
		return fmt.Errorf("sink-outage needs the managed influxd (no --influx-url): %w", faults.ErrUnsupported)
	}
	return t.s.influxd.Restart(ctx)
}

// needsEngineProcs reports whether a scenario's faults act on engine
// worker processes.
func needsEngineProcs(sc *scenarios.Scenario) bool {
	for _, f := range sc.Faults {
		if f.Kind == "worker-crash" || f.Kind == "worker-pause" || f.Kind == "worker-add" || f.Kind == "worker-remove" {
			return true
		}
	}
	return false
}

// lagProbe is the recovery probe of a fault schedule: the engine's
// consumer lag on the events topic and the sink's on the aggregates topic
// are both at most bound records.
type lagProbe struct {
	adm   *kadm.Client
	cl    *kgo.Client
	s     *stack
	bound int64
}

func newLagProbe(s *stack, bound int64) (*lagProbe, error) {
	cl, err := s.conn.NewClient()
	if err != nil {
		return nil, err
	}
	return &lagProbe{adm: kadm.NewClient(cl), cl: cl, s: s, bound: bound}, nil
}

func (p *lagProbe) Close() { p.cl.Close() }

// lags are the engine's and the sink's total lags.
func (p *lagProbe) lags(ctx context.Context) (engine, sk int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ls, err := p.adm.Lag(ctx, aggregate.DefaultGroup, sink.DefaultGroup)
	if err != nil {
		return 0, 0, err
	}
	if err := ls.Error(); err != nil {
		return 0, 0, err
	}
	el, sl := ls[aggregate.DefaultGroup].Lag, ls[sink.DefaultGroup].Lag
	return el.TotalByTopic()[p.s.topics.Events].Lag, sl.TotalByTopic()[p.s.topics.Aggregates].Lag, nil
}

// Recovered is the faults.Schedule probe.
func (p *lagProbe) Recovered(ctx context.Context) bool {
	e, s, err := p.lags(ctx)
	return err == nil && e <= p.bound && s <= p.bound
}

// faultWindows are the faults' windows, from each injection until it
// recovered (open-ended when it did not).
func faultWindows(recs []faults.Record) []reports.Span {
	out := make([]reports.Span, 0, len(recs))
	for _, r := range recs {
		w := reports.Span{Start: r.InjectedAt, Label: r.Name}
		if r.RecoveryS >= 0 && !r.HealedAt.IsZero() {
			w.End = r.HealedAt.Add(time.Duration(r.RecoveryS * float64(time.Second)))
		}
		out = append(out, w)
	}
	return out
}

// faultRecords are the schedule's records as report.json's faults.
func faultRecords(recs []faults.Record) []any {
	out := make([]any, 0, len(recs))
	ts := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	for _, r := range recs {
		m := map[string]any{"name": r.Name, "kind": r.Kind, "injected_at": ts(r.InjectedAt), "healed_at": ts(r.HealedAt), "heal_s": r.HealS, "recovery_s": r.RecoveryS}
		if r.Error != "" {
			m["error"] = r.Error
		}
		if r.Hits > 0 {
			m["hits"] = r.Hits
		}
		out = append(out, m)
	}
	return out
}
