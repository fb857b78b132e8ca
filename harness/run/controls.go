package run

import (
	"context"
	"fmt"

	toxiproxy "github.com/Shopify/toxiproxy/v2"

	"github.com/countlab/countlab/faults"
)

// The optional fault interfaces of a run's fault target, passed on to the
// target's controls: the faults find them by type assertion on the target
// they are given (trafficTarget), so it has every one and answers
// faults.ErrUnsupported for those its controls lack.

var (
	_ faults.BrokerProcess = trafficTarget{}
	_ faults.Network       = trafficTarget{}
	_ faults.HTTPFaults    = trafficTarget{}
	_ faults.WorkerScaler  = trafficTarget{}
)

// unsupported is the error of a fault the controls cannot serve.
func unsupported(what string) error {
	return fmt.Errorf("the target's controls cannot %s: %w", what, faults.ErrUnsupported)
}

// KillBroker implements faults.BrokerProcess.
func (t trafficTarget) KillBroker() error {
	if b, ok := t.Target.(faults.BrokerProcess); ok {
		return b.KillBroker()
	}
	return unsupported("kill the broker")
}

// RestartBroker implements faults.BrokerProcess.
func (t trafficTarget) RestartBroker(ctx context.Context) error {
	if b, ok := t.Target.(faults.BrokerProcess); ok {
		return b.RestartBroker(ctx)
	}
	return unsupported("restart the broker")
}

// LinkProxies implements faults.Network.
func (t trafficTarget) LinkProxies(link string) ([]*toxiproxy.Proxy, error) {
	if n, ok := t.Target.(faults.Network); ok {
		return n.LinkProxies(link)
	}
	return nil, unsupported("front link " + link + " with a proxy")
}

// SinkErrorProxy implements faults.HTTPFaults.
func (t trafficTarget) SinkErrorProxy() (*faults.ErrorProxy, error) {
	if h, ok := t.Target.(faults.HTTPFaults); ok {
		return h.SinkErrorProxy()
	}
	return nil, unsupported("fail the sink's requests")
}

// AddWorker implements faults.WorkerScaler.
func (t trafficTarget) AddWorker(ctx context.Context) (int, error) {
	if s, ok := t.Target.(faults.WorkerScaler); ok {
		return s.AddWorker(ctx)
	}
	return 0, unsupported("add a worker")
}

// RemoveWorker implements faults.WorkerScaler.
func (t trafficTarget) RemoveWorker(ctx context.Context, id int) error {
	if s, ok := t.Target.(faults.WorkerScaler); ok {
		return s.RemoveWorker(ctx, id)
	}
	return unsupported("remove a worker")
}

// StopWorker implements faults.WorkerScaler.
func (t trafficTarget) StopWorker(ctx context.Context, i int) error {
	if s, ok := t.Target.(faults.WorkerScaler); ok {
		return s.StopWorker(ctx, i)
	}
	return unsupported("stop a worker")
}
