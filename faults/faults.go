// Package faults injects failures into a running countlab stack, in the
// style of toxiproxy: each kind of fault is a small type built from its
// YAML parameters that implements one interface, Fault (Inject, Heal),
// against a Target the caller implements (the cmd layer's stack: engine
// workers, the Kafka broker, the InfluxDB sink). The fields every fault
// shares (name, start, duration) are applied in one place, Schedule: it
// injects each fault at its start, heals it at start+duration, and records
// when, and how long the pipeline took to recover afterwards.
//
// Kinds (see Kinds and KindDoc): process (worker-crash, worker-pause,
// worker-add, worker-remove), broker (broker-crash, broker-errors),
// network (network-latency, network-bandwidth, network-reset,
// network-partition, network-slow-close), sink (sink-outage, sink-slow,
// sink-errors), load (overload) and clock (clock-skew, late-burst). The
// package never imports the engine or the cmd layer.
//
// A kind that needs more than Target asks for an optional capability
// (franz-go hook style) and fails with ErrUnsupported without it: the
// network kinds (network-latency, network-bandwidth, network-reset,
// network-partition, network-slow-close, sink-slow) add toxiproxy toxics
// to the proxies of a Network target, sink-errors switches the
// ErrorProxy of an HTTPFaults target (network.go, sinkerrors.go);
// overload multiplies the offered rate of a Load target, clock-skew and
// late-burst shift the event times of a Clock target (load.go, clock.go).
// Random draws a schedule of faults from a seed (random.go).
// broker-crash kills and restarts the broker of a BrokerProcess target
// (brokercrash.go); worker-add and worker-remove make the consumer group
// rebalance through a WorkerScaler target (worker.go).
package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Fault is one injectable failure.
type Fault interface {
	// Inject starts the failure.
	Inject(ctx context.Context, t Target) error
	// Heal ends it (restarts what was stopped, removes what was added).
	Heal(ctx context.Context, t Target) error
}

// Target is what faults act on; the caller (the cmd layer) implements it.
// A method returns ErrUnsupported when the target cannot do it (for
// example, an external Kafka cluster has no fault API).
type Target interface {
	// Workers is the number of engine workers.
	Workers() int
	// KillWorker stops engine worker i abruptly: no commit, no graceful
	// close (SIGKILL for a worker process).
	KillWorker(ctx context.Context, i int) error
	// RestartWorker starts engine worker i again after KillWorker.
	RestartWorker(ctx context.Context, i int) error
	// PauseWorker freezes engine worker i (SIGSTOP); ResumeWorker thaws it.
	PauseWorker(i int) error
	ResumeWorker(i int) error
	// KafkaCluster is the embedded broker's cluster, for its fault API;
	// nil with an external cluster.
	KafkaCluster() *kfake.Cluster
	// KillSink kills the InfluxDB server the sink writes to;
	// RestartSink starts it again on the same data and port.
	KillSink() error
	RestartSink(ctx context.Context) error
}

// ErrUnsupported is returned by a Target that cannot do what a fault asks.
var ErrUnsupported = errors.New("not supported by this target")

// Spec is one fault of a scenario: the fields every kind shares and the
// kind's own parameters.
type Spec struct {
	// Name identifies the fault in reports (default: the kind and its
	// position).
	Name string `yaml:"name" json:"name"`
	// Kind is one of Kinds.
	Kind string `yaml:"kind" json:"kind"`
	// Start is when the fault is injected, from the start of the traffic.
	Start time.Duration `yaml:"start" json:"start"`
	// Duration is how long it lasts before it is healed (> 0).
	Duration time.Duration `yaml:"duration" json:"duration"`
	// Params are the kind's parameters (see Kinds).
	Params map[string]any `yaml:"params,omitempty" json:"params,omitempty"`
}

// kind is one fault kind: its documentation, its constructor and what it
// needs from a target (see Capability).
type kind struct {
	name   string
	doc    string
	params string
	build  func(p *params) (Fault, error)
	needs  []Capability
}

// kinds lists every fault kind, in the order of Kinds.
var kinds = []kind{
	{"worker-crash", "kill an engine worker abruptly (SIGKILL: no commit), restart it when healed", "worker: index (default 0)", buildWorkerCrash, []Capability{CapWorkerControl}},
	{"worker-pause", "freeze an engine worker (SIGSTOP), resume it (SIGCONT) when healed", "worker: index (default 0)", buildWorkerPause, []Capability{CapWorkerPause}},
	{"broker-errors", "the embedded broker answers matching requests with a Kafka error",
		"requests: [" + strings.Join(requestNames(), ", ") + "] (default [produce]); error: a Kafka error name (default NOT_LEADER_FOR_PARTITION); probability: (0, 1] (default 1)",
		buildBrokerErrors, []Capability{CapBrokerFaultAPI}},
	{"sink-outage", "kill the InfluxDB server (SIGKILL), restart it when healed", "none", buildSinkOutage, []Capability{CapSinkProcess}},
	{"overload", "multiply the offered rate (the gateway answers 429 beyond its capacity; hits: events refused)", "factor: (0, 100] (default 3)", buildOverload, []Capability{CapTrafficSender}},
	{"clock-skew", "shift the event times of a share of the clients by an offset", "share: (0, 1] (default 0.5); offset: a duration, + ahead, - behind (default 5s; within half the engine's out-of-orderness + lateness)", buildClockSkew, []Capability{CapEventClock}},
	{"late-burst", "send a share of the events too late (after their window closed: counted after a reconcile)", "share: (0, 1] (default 0.2)", buildLateBurst, []Capability{CapEventClock, CapReconcile}},
	{"network-latency", "delay the bytes of a link (toxiproxy latency toxic)", latencyParamsDoc, buildNetworkLatency, []Capability{CapNetworkProxies}},
	{"network-bandwidth", "limit the bandwidth of a link (toxiproxy bandwidth toxic)", "kb_per_s: >= 1 (default 100); " + linkParamsDoc, buildNetworkBandwidth, []Capability{CapNetworkProxies}},
	{"network-reset", "reset the connections of a link (toxiproxy reset_peer toxic): each is reset after_ms after its next data", "after_ms: >= 0 (default 0); " + linkParamsDoc, buildNetworkReset, []Capability{CapNetworkProxies}},
	{"network-partition", "cut a link: blackhole (connections stay open, nothing passes; closed at the heal) or refuse (proxies stopped)", "mode: blackhole or refuse (default blackhole); " + linkParamsDoc, buildNetworkPartition, []Capability{CapNetworkProxies}},
	{"network-slow-close", "delay the close of a link's connections (toxiproxy slow_close toxic)", "delay_ms: >= 0 (default 1000); " + linkParamsDoc, buildNetworkSlowClose, []Capability{CapNetworkProxies}},
	{"sink-slow", "network-latency on the sink-influx link (InfluxDB answers slowly)", sinkSlowParamsDoc, buildSinkSlow, []Capability{CapNetworkProxies}},
	{"sink-errors", "InfluxDB (an HTTP proxy in front of it on the sink's link) answers a share of the sink's requests with a 5xx", "probability: (0, 1] (default 0.5); status: 500..599 (default 503); forward: true to apply the request before failing it (default false)", buildSinkErrors, []Capability{CapSinkHTTPProxy}},
	{"broker-crash", "kill the broker process (SIGKILL), restart it on the same port and data dir when healed (the run starts the broker as a process)", "none", buildBrokerCrash, []Capability{CapBrokerProcess}},
	{"worker-add", "start extra engine worker processes (consumer-group rebalance), remove them gracefully when healed", "count: workers to add, 1..16 (default 1)", buildWorkerAdd, []Capability{CapWorkerScaling}},
	{"worker-remove", "stop an engine worker gracefully (it leaves the group: a rebalance), start it again when healed", "worker: index (default 0)", buildWorkerRemove, []Capability{CapWorkerScaling, CapWorkerControl}},
}

// Kinds are the names of the fault kinds.
func Kinds() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.name
	}
	return out
}

// KindDoc is a line per kind: its name, what it does and its parameters.
func KindDoc() string {
	var b strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&b, "%s: %s (params: %s)\n", k.name, k.doc, k.params)
	}
	return b.String()
}

// New builds the fault of s (its kind and parameters; Start and Duration
// are Schedule's). Errors name the parameter.
func New(s Spec) (Fault, error) {
	i := slices.IndexFunc(kinds, func(k kind) bool { return k.name == s.Kind })
	if i < 0 {
		return nil, fmt.Errorf("unknown fault kind %q (kinds: %s)", s.Kind, strings.Join(Kinds(), ", "))
	}
	p := newParams(s.Params)
	f, err := kinds[i].build(p)
	if err != nil {
		return nil, err
	}
	if err := p.unknown(); err != nil {
		return nil, fmt.Errorf("%s: %w (params: %s)", s.Kind, err, kinds[i].params)
	}
	return f, nil
}

// Validate checks s: its kind, parameters, start and duration.
func (s Spec) Validate() error {
	if s.Start < 0 {
		return fmt.Errorf("start must be >= 0 (got %s)", s.Start)
	}
	if s.Duration <= 0 {
		return fmt.Errorf("duration must be > 0 (got %s)", s.Duration)
	}
	_, err := New(s)
	return err
}

// ParamsDoc says which params kind takes ("" for an unknown kind).
func ParamsDoc(kindName string) string {
	for _, k := range kinds {
		if k.name == kindName {
			return k.params
		}
	}
	return ""
}
