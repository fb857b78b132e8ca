package probe

import (
	"context"
	"testing"
	"time"

	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
)

// nopTransport acknowledges nothing and fails nothing.
type nopTransport struct{}

func (nopTransport) Send(context.Context, []sim.Item, []sim.Outcome) error { return nil }

// newTestSender is a sender of ci-smoke's traffic that is never run: its
// progress stays zero.
func newTestSender(t *testing.T) *sim.Sender {
	t.Helper()
	sc, err := scenarios.Lookup("ci-smoke")
	if err != nil {
		t.Fatal(err)
	}
	gcfg, err := sc.GeneratorConfig("t-", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	gen, err := sim.NewGenerator(gcfg)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := sim.NewSender(sim.SenderConfig{Generator: gen, Schedule: sc.Schedule(), Duration: time.Second, Transport: nopTransport{}, Connections: 1})
	if err != nil {
		t.Fatal(err)
	}
	return snd
}
