package faults

import (
	"context"
	"fmt"
)

// BrokerProcess is what broker-crash needs from a Target: the Kafka
// broker run as its own process, on a fixed address and a data dir, so
// that it can be killed and started again where clients find it. A Target
// without it (an in-process broker, an external cluster) makes broker-crash
// fail with ErrUnsupported.
type BrokerProcess interface {
	// KillBroker kills the broker process abruptly (SIGKILL: no clean
	// shutdown, its data dir left as a crash leaves it) and waits until
	// it is gone.
	KillBroker() error
	// RestartBroker starts the broker again on the same address and data
	// dir and returns once it serves.
	RestartBroker(ctx context.Context) error
}

// brokerCrash kills the broker process (kill -9) and restarts it when
// healed.
type brokerCrash struct{}

func buildBrokerCrash(*params) (Fault, error) { return brokerCrash{}, nil }

func brokerProcess(t Target) (BrokerProcess, error) {
	b, ok := t.(BrokerProcess)
	if !ok {
		return nil, fmt.Errorf("broker-crash needs the broker as its own process: %w", ErrUnsupported)
	}
	return b, nil
}

func (brokerCrash) Inject(_ context.Context, t Target) error {
	b, err := brokerProcess(t)
	if err != nil {
		return err
	}
	return b.KillBroker()
}

func (brokerCrash) Heal(ctx context.Context, t Target) error {
	b, err := brokerProcess(t)
	if err != nil {
		return err
	}
	return b.RestartBroker(ctx)
}
