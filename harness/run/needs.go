package run

// What a scenario's faults need from the embedded stack, decided in one
// place: worker processes, the broker as a process, network proxies and
// the opt-in of external targets; and, before any run, every fault
// matched against what the target offers (each kind declares its needs
// next to itself in package faults: faults.Needs, faults.Check).

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
		stack.QueryMemory(e.QueryMemory),
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
	return append(opts, enrichStack(sc)...) // enrich.go
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

// stackCapabilities are what the embedded stack the run starts for sc
// offers its faults (scenarioStack: worker processes, the broker as a
// process, proxies when sc needs them; an external cluster or InfluxDB
// offers no broker fault API, no broker or store process).
func (c *cfg) stackCapabilities(sc *scenarios.Scenario) faults.Capabilities {
	n := scenarioNeeds(sc)
	external := len(c.kafka.Brokers) > 0
	return faults.Capabilities{
		faults.CapWorkerControl:  true, // worker processes when sc needs them
		faults.CapWorkerPause:    true,
		faults.CapWorkerScaling:  true,
		faults.CapBrokerFaultAPI: !external && !n.brokerProc,
		faults.CapBrokerProcess:  !external,
		faults.CapSinkProcess:    c.influx.URL == "",
		faults.CapNetworkProxies: true,
		faults.CapSinkHTTPProxy:  true,
		faults.CapTrafficSender:  true,
		faults.CapEventClock:     true,
		faults.CapReconcile:      true,
		faults.CapQueryAPI:       true,
		faults.CapRecoveryProbe:  true,
	}
}

// checkCapabilities refuses, before the run, a fault the target cannot
// serve: the target's own Check, or for the embedded stack its
// capabilities (broker-errors on an external cluster, which has no fault
// API, used to fail 10 s into the run).
func (c *cfg) checkCapabilities(sc *scenarios.Scenario) error {
	if c.target != nil {
		if c.target.Check == nil {
			return nil
		}
		return c.target.Check(sc)
	}
	name := "the embedded stack"
	switch {
	case len(c.kafka.Brokers) > 0:
		name = "the stack on the Kafka cluster at " + c.kafka.String() + " (--brokers)"
	case c.influx.URL != "":
		name = "the stack on the InfluxDB at " + c.influx.URL + " (--influx-url)"
	}
	err := faults.Check(sc.Faults, c.stackCapabilities(sc), name, func(cp faults.Capability) string {
		switch cp {
		case faults.CapBrokerFaultAPI:
			return "run it against the embedded broker (no --brokers); an external cluster has no request fault API"
		case faults.CapBrokerProcess:
			return "run it against the embedded broker (no --brokers: the run starts it as a process), or describe your broker as a node of a target file (--target)"
		case faults.CapSinkProcess:
			return "run it against the managed InfluxDB (no --influx-url), or describe yours as a store node of a target file (--target)"
		}
		return ""
	})
	if err != nil {
		return harness.ConfigError{Err: err}
	}
	return nil
}
