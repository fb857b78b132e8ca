package run

// What a scenario's faults need from the embedded stack, decided in one
// place: worker processes, the broker as a process, network proxies and
// the opt-in of external targets. (Per-kind capability declarations next
// to each fault in package faults replace the table below once targets
// declare their capabilities.)

import (
	"strconv"
	"time"

	"github.com/countlab/countlab/faults"
	"github.com/countlab/countlab/harness"
	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/scenarios"
)

// need is what one fault kind needs of the embedded stack.
type need struct {
	engineProcs bool   // worker processes to SIGKILL, SIGSTOP, add or remove
	brokerProc  bool   // the broker as a process to SIGKILL and restart
	netProxies  bool   // proxies on the engine-broker and sink-influx links
	control     string // the external target it acts on ("broker", "influx"; "": none)
}

// needOf is fault kind's need.
func needOf(kind string) need {
	switch kind {
	case "worker-crash", "worker-pause", "worker-add", "worker-remove":
		return need{engineProcs: true}
	case "broker-crash":
		return need{brokerProc: true, control: "broker"}
	case "broker-errors":
		return need{control: "broker"}
	case "sink-outage":
		return need{control: "influx"}
	}
	if faults.NetworkKind(kind) {
		return need{netProxies: true}
	}
	return need{}
}

// scenarioNeeds is the union of the needs of sc's faults.
func scenarioNeeds(sc *scenarios.Scenario) need {
	var n need
	for _, f := range sc.Faults {
		k := needOf(f.Kind)
		n.engineProcs = n.engineProcs || k.engineProcs
		n.brokerProc = n.brokerProc || k.brokerProc
		n.netProxies = n.netProxies || k.netProxies
	}
	return n
}

// scenarioStack are the embedded stack's options for sc: its engine section
// and what its faults need. The runner's own stack options (flags) come
// after them and override them.
func (c *cfg) scenarioStack(sc *scenarios.Scenario) []stack.Opt {
	e := sc.Engine
	n := scenarioNeeds(sc)
	opts := []stack.Opt{
		stack.Partitions(e.Partitions),
		stack.Workers(e.Workers),
		stack.Windows(e.Windows...),
		stack.Lateness(e.Lateness),
		stack.OutOfOrderness(e.OutOfOrderness),
		stack.CommitInterval(e.CommitInterval),
		stack.GatewayCapacity(e.GatewayMaxEventsPerS, e.GatewayMaxInFlight),
		stack.EngineProcesses(n.engineProcs || e.Processes),
		stack.NetProxies(n.netProxies),
		stack.AtLeastOnceUNSAFE(c.atLeastOnce),
		stack.PlantBugUNSAFE(c.plantBug),
		stack.TopicRetention(sc.TopicRetention.Kafka()), // scenario topic_retention: (scenarios/longrun.go)
	}
	if e.Retention != nil {
		opts = append(opts, stack.Retention(e.Retention))
	}
	if e.SessionTimeout != 0 {
		// worker-pause: a pause longer than it fences the paused worker.
		opts = append(opts, stack.SessionTimeout(e.SessionTimeout))
	}
	if len(c.kafka.Brokers) > 0 {
		opts = append(opts, stack.Kafka(c.kafka))
	} else if n.brokerProc {
		opts = append(opts, stack.BrokerProcess(true))
	}
	if c.influx.URL != "" {
		opts = append(opts, stack.Influx(c.influx))
	}
	return opts
}

// checkSessionTimeout refuses a session timeout a broker does not accept.
func checkSessionTimeout(sc *scenarios.Scenario) error {
	if st := sc.Engine.SessionTimeout; st != 0 && (st < stack.MinSessionTimeout || st > stack.MaxSessionTimeout) {
		return harness.Configf("engine.session_timeout: %s is outside what a broker accepts by default (%s..%s)", st, stack.MinSessionTimeout, stack.MaxSessionTimeout)
	}
	return nil
}

// checkStaging refuses faults on external targets that were not opted in
// (AllowChaos). The staging rule: a Kafka cluster given with Kafka and an
// InfluxDB given with Influx are external targets, whatever their address
// (loopback included: countlab cannot tell a tunnel to production from a
// server of its own). Faults on what the run itself starts (engine
// workers, the traffic, the run's own proxies) need no opt-in.
func (c *cfg) checkStaging(sc *scenarios.Scenario) error {
	external := map[string]string{}
	if len(c.kafka.Brokers) > 0 {
		external["broker"] = "the Kafka cluster at " + c.kafka.String() + " (--brokers)"
	}
	if c.influx.URL != "" {
		external["influx"] = "the InfluxDB at " + c.influx.URL + " (--influx-url)"
	}
	for _, f := range sc.Faults {
		target := needOf(f.Kind).control
		what, ext := external[target]
		if target == "" || !ext || c.allowed(target) {
			continue
		}
		name := f.Name
		if name == "" {
			name = f.Kind
		}
		return harness.Configf("fault %s (%s) needs control over %s, an external target: refused; opt it in with --allow-chaos %s if faults may act on it (every --brokers/--influx-url target is external, loopback included)",
			name, f.Kind, what, target)
	}
	return nil
}

// runTopicPrefix is the run's topic prefix: TopicPrefix, or on an
// external cluster countlab-<run id>-.
func (c *cfg) runTopicPrefix(now time.Time) string {
	if c.topicPrefix != nil {
		return *c.topicPrefix
	}
	if len(c.kafka.Brokers) > 0 {
		return "countlab-" + strconv.FormatInt(now.UnixMilli(), 36) + "-"
	}
	return ""
}
