package run

import (
	"errors"
	"strings"
	"testing"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/faults"
	"github.com/countlab/countlab/harness"
	"github.com/countlab/countlab/scenarios"
)

// TestCheckCapabilities: before the run, every fault is matched against
// what the stack the run starts offers; what it cannot serve is a
// ConfigError naming the fault and the capability (broker-errors opted in
// on an external cluster used to fail 10 s into the run, its verdict
// PASS).
func TestCheckCapabilities(t *testing.T) {
	f := func(scenario string, opts []Opt, want string) {
		t.Helper()
		sc, err := scenarios.Lookup(scenario)
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.ExpandRandomFaults(); err != nil {
			t.Fatal(err)
		}
		r, err := New(opts...)
		if err != nil {
			t.Fatal(err)
		}
		err = r.cfg.checkCapabilities(sc)
		var me *faults.MissingError
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", scenario, err)
		case want != "" && (!harness.IsConfig(err) || !errors.As(err, &me) || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: got %v, want a ConfigError with %q", scenario, err, want)
		}
	}
	ext := Kafka(kafka.Conn{Brokers: []string{"127.0.0.1:9092"}})
	extInflux := Influx(influx.Config{URL: "http://127.0.0.1:8086", Bucket: "b"})
	for _, sc := range scenarios.Names() {
		f(sc, nil, "") // the embedded stack serves every shipped scenario
	}
	f("broker-errors", []Opt{ext, AllowChaos("broker")}, "fault produce-not-leader (broker-errors) needs broker-fault-api")
	f("broker-crash", []Opt{ext, AllowChaos("broker")}, "needs broker-process")
	f("sink-outage", []Opt{extInflux, AllowChaos("influx")}, "needs sink-process")
	f("worker-crash", []Opt{ext, extInflux}, "")
	// A target's own Check decides for it.
	f("worker-crash", []Opt{WithTarget(&Target{Name: "t", Check: func(*scenarios.Scenario) error {
		return harness.ConfigError{Err: &faults.MissingError{What: "fault x", Missing: faults.CapWorkerControl, Target: "t"}}
	}})}, "fault x needs worker-control")
}
