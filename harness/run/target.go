package run

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/engine/reconcile"
	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/faults"
	"github.com/countlab/countlab/harness/probe"
	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
)

// Target is the system under test as a run drives and checks it: the
// interfaces the harness already has, gathered in one value. The embedded
// stack is one (StackTarget, the default); harness/target builds one from
// a target file. Only Ingest and Windows are required.
type Target struct {
	// Name describes the target in the run's output.
	Name string
	// Banner is printed when the run starts (addresses; "" : nothing).
	Banner string
	// Ingest is the sender's transport for the scenario's routes
	// (traffic.via, format, routes); the run calls closeFn at its end.
	Ingest func(sc *scenarios.Scenario) (tr sim.Transport, closeFn func(), err error)
	// Query is the query API's read side: every window is checked through
	// it. When it is also a reports.Counter (*client.Client is), it serves
	// the freshness tracers and the query load. Nil: neither.
	Query reports.Querier
	// Store is the store's read side: every window is read back as stored
	// (nil: not read back).
	Store reports.Store
	// StoreByKey: the store keeps one total per (key, type, window),
	// dimension sets summed (a target's store); false: per dimension set,
	// as countlab's sink stores them.
	StoreByKey bool
	// Controls are what the faults act on: faults.Target and any of the
	// optional fault interfaces (faults.BrokerProcess, faults.Network,
	// faults.HTTPFaults, faults.WorkerScaler). Nil: a scenario with faults
	// acting on the target is refused.
	Controls faults.Target
	// Check, when set, refuses before the run what of a scenario the
	// target cannot serve (a fault or probe it lacks the capability for,
	// a target not ready): a harness.ConfigError. Nil (the embedded
	// stack): the stack's capabilities are matched (needs.go).
	Check func(sc *scenarios.Scenario) error
	// Recovered is the faults' recovery probe (the pipeline caught up to
	// within bound records); nil: a fault counts as recovered at its heal.
	Recovered func(ctx context.Context, bound int64) bool
	// Windows are the window sizes the target counts, smallest first (the
	// smallest is probed); Lateness and OutOfOrderness its watermark
	// settings, which the truth applies (0: none).
	Windows                  []time.Duration
	Lateness, OutOfOrderness time.Duration
	// Retention is the target's retention config (engine/rollup): the
	// check leaves out the windows past their retention and checks
	// window=auto ranges; nil: none.
	Retention *rollup.Config
	// Probes are what the probes read (lag, processes, metrics).
	Probes probe.Sources
	// Reconcile recounts windows from the raw events (late events); nil:
	// not available.
	Reconcile func(ctx context.Context, from, to time.Time) (reconcile.Result, error)
	// Err is the first failure of a part of the target (nil: none known).
	Err func() error
	// Status is shown on the live progress line (nil: nothing).
	Status func() string
	// MetadataURL is the base URL of the gateway taking POST /v1/metadata
	// (an enrichment scenario's metadata; "": none, such scenarios are
	// refused; enrich.go).
	MetadataURL string
}

// StackTarget is the embedded stack st as a run's target; token is the
// bearer token of its gateway and query service.
func StackTarget(st *stack.Stack, token string) (*Target, error) {
	qc, err := client.New("http://"+st.QueryAddr(), client.Token(token))
	if err != nil {
		return nil, err
	}
	inf := st.Influx()
	t := &Target{
		Name: "the embedded stack",
		Banner: fmt.Sprintf("broker %s, influxdb %s, gateway http://%s, query http://%s\n  metrics http://%s/metrics",
			st.Conn().String(), inf.URL, st.GatewayAddr(), st.QueryAddr(), st.MetricsAddr()),
		Ingest:         func(sc *scenarios.Scenario) (sim.Transport, func(), error) { return trafficTransport(st, sc, token) },
		Query:          qc,
		Store:          retentionStore(inf, st.Retention()),
		Retention:      st.Retention(),
		Controls:       st.Target(),
		Recovered:      st.Lag().Recovered,
		Windows:        st.Windows(),
		Lateness:       st.Lateness(),
		OutOfOrderness: st.OutOfOrderness(),
		MetadataURL:    "http://" + st.GatewayAddr(),
		Probes: probe.Sources{
			Lag:       st.Lag(),
			Processes: st.Processes(os.Getpid),
			Gateway:   st.GatewayMetrics(),
			InfluxURL: inf.URL,
			Sink:      st.SinkMetrics(),
			Notes:     st.Notes(),
		},
		Reconcile: func(ctx context.Context, from, to time.Time) (reconcile.Result, error) {
			return reconcile.Run(ctx, reconcile.Config{
				Kafka:            st.Conn(),
				Topics:           st.Topics(),
				Influx:           inf,
				From:             from,
				To:               to,
				Windows:          st.Windows(),
				Lateness:         st.Lateness(),
				OutOfOrderness:   st.OutOfOrderness(),
				NoLateness:       st.Lateness() == 0,
				NoOutOfOrderness: st.OutOfOrderness() == 0,
				Idle:             2 * time.Second,
				HotKeys:          st.HotKeys(),
				Logger:           st.Logger(), // reconcile adds part=reconcile itself
				Rollup:           st.Retention(),
				Enrich:           st.ReconcileEnrich(), // the attribute roll-ups too (nil: none)
			})
		},
		Err:    st.Err,
		Status: func() string { return st.PipelineCounts().String() },
	}
	if p := st.Proxies(); p != "" {
		t.Banner += "\n  network proxies: " + p
	}
	return t, nil
}

// tgStatus is t's part of the progress line ("" without one).
func tgStatus(t *Target) string {
	if t.Status == nil {
		return ""
	}
	return t.Status()
}
