package stack

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/countlab/countlab/faults"
)

// Target is the stack as the faults see it: faults.Target and the
// optional fault interfaces (faults.BrokerProcess, faults.Network,
// faults.HTTPFaults, faults.WorkerScaler), each answering
// faults.ErrUnsupported when the stack was started without what it needs.
func (s *Stack) Target() faults.Target { return stackTarget{s} }

// stackTarget is the faults.Target of a running stack.
type stackTarget struct{ s *Stack }

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
