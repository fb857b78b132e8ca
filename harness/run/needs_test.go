package run

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/harness"
	"github.com/countlab/countlab/scenarios"
)

// TestNeeds checks what each fault kind needs of the embedded stack, in
// the one place that decides it.
func TestNeeds(t *testing.T) {
	f := func(kinds []string, want need) {
		t.Helper()
		sc := &scenarios.Scenario{}
		for _, k := range kinds {
			sc.Faults = append(sc.Faults, scenarios.Fault{Kind: k, Duration: time.Second})
		}
		if got := scenarioNeeds(sc); got != want {
			t.Errorf("%v: %+v, want %+v", kinds, got, want)
		}
	}
	f(nil, need{})
	f([]string{"sink-outage", "broker-crash"}, need{brokerProc: true})
	f([]string{"worker-crash", "sink-outage"}, need{engineProcs: true})
	f([]string{"worker-pause"}, need{engineProcs: true})
	f([]string{"worker-add"}, need{engineProcs: true})
	f([]string{"worker-remove"}, need{engineProcs: true})
	f([]string{"worker-crash", "network-latency"}, need{engineProcs: true, netProxies: true})
	f([]string{"sink-errors"}, need{netProxies: true})
	f([]string{"sink-slow"}, need{netProxies: true})
	for _, k := range []string{"broker-errors", "broker-crash"} {
		if needOf(k).control != "broker" {
			t.Errorf("%s acts on the broker", k)
		}
	}
	if needOf("sink-outage").control != "influx" || needOf("overload").control != "" {
		t.Error("sink-outage acts on InfluxDB, overload on nothing external")
	}
	for _, c := range []struct {
		session time.Duration
		want    string
	}{{0, ""}, {6 * time.Second, ""}, {2 * time.Second, "engine.session_timeout: 2s is outside"}, {time.Hour, "engine.session_timeout: 1h0m0s is outside"}} {
		sc := &scenarios.Scenario{}
		sc.Engine.SessionTimeout = c.session
		err := checkSessionTimeout(sc)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("session %s: %v, want %q", c.session, err, c.want)
		}
	}
}

// TestChaosOptions checks the staging rule without a stack: faults on
// external targets need their opt-in, the automatic topic prefix,
// DeleteTopics' conditions and FaultSeed.
func TestChaosOptions(t *testing.T) {
	f := func(scenario string, opts []Opt, brokers, influxURL, want string) *cfg {
		t.Helper()
		sc, err := scenarios.Lookup(scenario)
		if err != nil {
			t.Fatal(err)
		}
		if brokers != "" {
			opts = append(opts, Kafka(kafka.Conn{Brokers: []string{brokers}}))
		}
		if influxURL != "" {
			opts = append(opts, Influx(influx.Config{URL: influxURL, Bucket: "b"}))
		}
		r, err := New(opts...)
		if err == nil && r.cfg.faultSeed != nil {
			if sc.RandomFaults == nil {
				err = harness.Configf("--fault-seed: scenario %s has no random_faults to draw", sc.Name)
			} else {
				sc.RandomFaults.Seed = *r.cfg.faultSeed
			}
		}
		if err == nil {
			err = sc.ExpandRandomFaults()
		}
		if err == nil {
			err = r.cfg.checkStaging(sc)
		}
		switch {
		case want == "" && err != nil:
			t.Errorf("%s %q %q: %v", scenario, brokers, influxURL, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s %q %q: got %v, want an error with %q", scenario, brokers, influxURL, err, want)
		}
		if r == nil {
			return &cfg{}
		}
		return &r.cfg
	}
	f("sink-outage", nil, "", "", "")
	f("sink-outage", nil, "", "http://127.0.0.1:8086", "--allow-chaos influx")
	f("sink-outage", []Opt{AllowChaos("influx")}, "", "http://127.0.0.1:8086", "")
	f("sink-outage", nil, "127.0.0.1:9092", "", "")
	f("broker-errors", nil, "127.0.0.1:9092", "", "--allow-chaos broker")
	f("broker-errors", []Opt{AllowChaos("broker", "influx")}, "127.0.0.1:9092", "http://x:8086", "")
	f("broker-errors", []Opt{AllowChaos("kafka")}, "", "", `unknown target "kafka"`)
	f("worker-crash", nil, "127.0.0.1:9092", "http://x:8086", "")
	f("overload", nil, "127.0.0.1:9092", "http://x:8086", "")
	now := time.Now()
	if p := f("quickstart", nil, "127.0.0.1:9092", "", "").runTopicPrefix(now); !regexp.MustCompile(`^countlab-[0-9a-z]+-$`).MatchString(p) {
		t.Errorf("staging topic prefix %q, want countlab-<run id>-", p)
	}
	if p := f("quickstart", []Opt{TopicPrefix("mine-")}, "127.0.0.1:9092", "", "").runTopicPrefix(now); p != "mine-" {
		t.Errorf("topic prefix %q, want the one given", p)
	}
	if p := f("quickstart", nil, "", "", "").runTopicPrefix(now); p != "" {
		t.Errorf("embedded broker: topic prefix %q, want none", p)
	}
	f("quickstart", []Opt{DeleteTopics(true)}, "", "", "give --brokers")
	f("quickstart", []Opt{DeleteTopics(true), TopicPrefix("")}, "127.0.0.1:9092", "", "non-empty --topic-prefix")
	f("quickstart", []Opt{DeleteTopics(true)}, "127.0.0.1:9092", "", "")
	f("quickstart", []Opt{FaultSeed(3)}, "", "", "has no random_faults")
	f("all-at-once", []Opt{FaultSeed(3)}, "", "", "")
	f("all-at-once", []Opt{FaultSeed(3)}, "", "http://x:8086", "--allow-chaos influx") // seed 3 draws a sink-outage
	if !slices.Contains(chaosKinds("broker"), "broker-crash") {
		t.Error("broker-crash needs control over the broker")
	}
}

// chaosKinds are the fault kinds that act on an external target.
func chaosKinds(target string) []string {
	var out []string
	for _, k := range []string{"broker-errors", "broker-crash", "sink-outage", "worker-crash", "overload", "network-latency"} {
		if needOf(k).control == target {
			out = append(out, k)
		}
	}
	return out
}
