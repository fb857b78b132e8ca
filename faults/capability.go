package faults

import (
	"fmt"
	"slices"
	"strings"
)

// Capability is one thing a fault kind (or a probe) needs from the system
// under test. Each kind declares its needs in the kinds table, next to its
// constructor; a caller that knows what its target offers matches a
// scenario's faults against it before the run (Check), so that a fault the
// target cannot serve is refused up front instead of failing mid-run.
type Capability string

// The capabilities.
const (
	// CapWorkerControl: engine workers that can be killed abruptly,
	// restarted, paused and resumed (Target's worker methods: worker
	// processes, or a target's nodes with kill/restart/pause/resume
	// commands).
	CapWorkerControl Capability = "worker-control"
	// CapWorkerPause: engine workers that can be frozen and thawed
	// (Target.PauseWorker, ResumeWorker).
	CapWorkerPause Capability = "worker-pause"
	// CapWorkerScaling: workers that join and leave the consumer group on
	// demand (WorkerScaler).
	CapWorkerScaling Capability = "worker-scaling"
	// CapBrokerFaultAPI: the embedded broker's request fault API
	// (Target.KafkaCluster non-nil).
	CapBrokerFaultAPI Capability = "broker-fault-api"
	// CapBrokerProcess: the broker as a process that can be killed and
	// restarted on its address and data (BrokerProcess).
	CapBrokerProcess Capability = "broker-process"
	// CapSinkProcess: the store (InfluxDB) as a process that can be
	// killed and restarted with its data (Target.KillSink, RestartSink).
	CapSinkProcess Capability = "sink-process"
	// CapNetworkProxies: links routed through the harness's toxiproxy
	// proxies (Network).
	CapNetworkProxies Capability = "network-proxies"
	// CapSinkHTTPProxy: the sink's HTTP requests to the store through the
	// harness's ErrorProxy (HTTPFaults).
	CapSinkHTTPProxy Capability = "sink-http-proxy"
	// CapTrafficSender: the run's own sender, whose rate overload
	// multiplies (Load); every countlab run has one.
	CapTrafficSender Capability = "traffic-sender"
	// CapEventClock: the run's own generator, whose event times clock
	// faults shift (Clock); every countlab run has one.
	CapEventClock Capability = "event-clock"
	// CapReconcile: a reconcile that recounts the events sent after their
	// window closed (late-burst: they are expected only after it); the
	// reference engine's `countlab reconcile`.
	CapReconcile Capability = "reconcile"
	// CapQueryAPI: countlab's query API (freshness tracers, the query
	// load probe).
	CapQueryAPI Capability = "query-api"
	// CapRecoveryProbe: a way to tell the pipeline recovered after a
	// fault: the consumer lag of its groups, or a health probe of every
	// node.
	CapRecoveryProbe Capability = "recovery-probe"
)

// CapabilityDoc says what each capability is, for usage errors and the
// README.
var CapabilityDoc = map[Capability]string{
	CapWorkerControl:  "engine workers countlab can kill and restart",
	CapWorkerPause:    "engine workers countlab can pause and resume",
	CapWorkerScaling:  "engine workers countlab can add to and remove from the consumer group",
	CapBrokerFaultAPI: "the embedded broker's request fault API",
	CapBrokerProcess:  "a Kafka broker process countlab can kill and restart",
	CapSinkProcess:    "a store process countlab can kill and restart",
	CapNetworkProxies: "links through countlab's network proxies",
	CapSinkHTTPProxy:  "the sink's requests to InfluxDB through countlab's error proxy",
	CapTrafficSender:  "countlab's own traffic sender",
	CapEventClock:     "countlab's own event generator",
	CapReconcile:      "a reconcile that recounts late events",
	CapQueryAPI:       "countlab's query API",
	CapRecoveryProbe:  "a way to tell the pipeline recovered: consumer lag or node health",
}

// Needs are the capabilities a fault kind needs (nil for an unknown kind).
func Needs(kindName string) []Capability {
	for _, k := range kinds {
		if k.name == kindName {
			return slices.Clone(k.needs)
		}
	}
	return nil
}

// Capabilities is what a target offers.
type Capabilities map[Capability]bool

// Has reports whether c offers every capability of need.
func (c Capabilities) Has(need ...Capability) bool {
	for _, n := range need {
		if !c[n] {
			return false
		}
	}
	return true
}

// List is c's capabilities, sorted.
func (c Capabilities) List() []Capability {
	var out []Capability
	for k, ok := range c {
		if ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// MissingError is a fault (or probe) a target cannot serve.
type MissingError struct {
	// What is "fault NAME (KIND)" or "probe NAME".
	What string
	// Missing is the capability the target lacks.
	Missing Capability
	// Target names the target, for the message.
	Target string
	// Hint, when set, says how to provide it.
	Hint string
}

func (e *MissingError) Error() string {
	msg := fmt.Sprintf("%s needs %s (%s), which %s does not offer", e.What, e.Missing, CapabilityDoc[e.Missing], e.Target)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// Check matches every fault of specs against what a target (named target
// in the error) offers, and returns a *MissingError for the first fault
// the target cannot serve; hint, when set, gives the fix for a missing
// capability. Faults also need a recovery probe.
func Check(specs []Spec, have Capabilities, target string, hint func(Capability) string) error {
	for i, s := range specs {
		needs := Needs(s.Kind)
		if needs == nil && !slices.Contains(Kinds(), s.Kind) {
			return fmt.Errorf("fault %s: unknown kind %q (kinds: %s)", recordName(s, i), s.Kind, strings.Join(Kinds(), ", "))
		}
		for _, n := range append(needs, CapRecoveryProbe) {
			if have[n] {
				continue
			}
			e := &MissingError{What: fmt.Sprintf("fault %s (%s)", recordName(s, i), s.Kind), Missing: n, Target: target}
			if hint != nil {
				e.Hint = hint(n)
			}
			return e
		}
	}
	return nil
}
