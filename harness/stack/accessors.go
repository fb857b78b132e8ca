package stack

import (
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/reports"
)

// Conn is the Kafka connection of the stack's cluster (embedded or
// external; SASL/TLS included).
func (s *Stack) Conn() kafka.Conn { return s.conn }

// Topics are the stack's topics.
func (s *Stack) Topics() kafka.Topics { return s.topics }

// Influx is the InfluxDB the sink writes to (managed or external).
func (s *Stack) Influx() influx.Config { return s.influx }

// Windows are the window sizes, as configured.
func (s *Stack) Windows() []time.Duration { return s.windows }

// HotKeys are the keys split over several partitions (HotKeys; nil:
// none), a copy.
func (s *Stack) HotKeys() map[string]int { return maps.Clone(s.cfg.hotKeys) }

// Lateness and OutOfOrderness are the engine's watermark settings.
func (s *Stack) Lateness() time.Duration       { return s.cfg.lateness }
func (s *Stack) OutOfOrderness() time.Duration { return s.cfg.outOfOrder }

// GatewayAddr, QueryAddr and MetricsAddr are where the gateway, the query
// service and every part's metrics listen (host:port).
func (s *Stack) GatewayAddr() string { return s.gwAddr }
func (s *Stack) QueryAddr() string   { return s.qAddr }
func (s *Stack) MetricsAddr() string { return s.metricsAddr }

// Proxies describes the network proxies ("" without them).
func (s *Stack) Proxies() string {
	if s.net == nil {
		return ""
	}
	return s.net.String()
}

// Lag is the stack's one consumer-lag reader (closed by Close).
func (s *Stack) Lag() *LagReader { return s.lag }

// Metrics is every part's metrics, merged (what MetricsAddr serves).
func (s *Stack) Metrics() prometheus.Gatherer { return s.metrics }

// GatewayMetrics is the gateway's registry.
func (s *Stack) GatewayMetrics() prometheus.Gatherer { return s.gateway.Registry() }

// SinkMetrics is the registry with the sink's counters.
func (s *Stack) SinkMetrics() prometheus.Gatherer { return s.sinkReg }

// EngineRestarts is how many engine workers were restarted after an
// unexpected stop.
func (s *Stack) EngineRestarts() int64 { return s.engineRestarts.Load() }

// Process is one process of the stack the probes measure.
type Process struct {
	// Name is reports.HarnessProcess, "engine-N", "influxd" or "broker".
	Name string
	// PID is its pid now (0: not running, e.g. between a kill and its
	// restart).
	PID func() int
	// Self marks this process (the harness's own).
	Self bool
	// MetricsURL is its Prometheus text endpoint now ("" : none).
	MetricsURL func() string
	// InfluxURL is an InfluxDB 1.x base URL whose /debug/vars describes it.
	InfluxURL string
	// CPUOnly marks a process only its CPU time is measured of (the
	// broker process).
	CPUOnly bool
}

// Processes are the processes the probes measure: this one, the engine
// worker processes, a managed influxd and a broker process.
func (s *Stack) Processes(self func() int) []Process {
	out := []Process{{Name: reports.HarnessProcess, PID: self, Self: true}}
	for _, p := range s.engines {
		out = append(out, Process{Name: fmt.Sprintf("engine-%d", p.slot), PID: p.pid, MetricsURL: p.metricsURL})
	}
	if s.influxd != nil {
		out = append(out, Process{Name: "influxd", PID: s.influxd.Pid, InfluxURL: s.influx.URL})
	}
	if s.brokerProc != nil {
		out = append(out, Process{Name: "broker", PID: s.brokerProc.pid, CPUOnly: true})
	}
	return out
}

// Notes are what the probes cannot measure on this stack.
func (s *Stack) Notes() []string {
	var notes []string
	if s.influxd == nil {
		notes = append(notes, "InfluxDB is external (--influx-url): its CPU is not measured")
	}
	if s.broker == nil && s.brokerProc == nil {
		notes = append(notes, "the Kafka cluster is external (--brokers): its CPU is not measured")
	}
	return notes
}

// Logger is the stack's logger.
func (s *Stack) Logger() *slog.Logger { return s.log }

// Addrs is a stack that was never started, with these gateway, query and
// metrics addresses (for tests of what prints them).
func Addrs(gateway, query, metrics string) *Stack {
	return &Stack{gwAddr: gateway, qAddr: query, metricsAddr: metrics}
}
