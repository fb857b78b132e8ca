// Package target describes a system under test to the harness: any
// counting pipeline, not only countlab's own engine. A strict `target:`
// YAML file (File, Spec: every field documented, unknown fields refused,
// every error naming the field and the fix) says where the run sends the
// events (an HTTP batch endpoint or a Kafka topic: Ingest), where it reads
// the counts back (countlab's query API, an HTTP GET template with JSON
// paths, an InfluxQL or Flux query template: Read), what faults may do to
// it (named nodes with shell commands to kill, pause, resume and restart
// them and a health probe: Node) and the counting rules the check holds it
// to (Semantics). Load turns a file into a Target: the run's
// sim.Transport, reports.Querier and reports.Store, a faults.Target, a
// recovery probe, and the Capabilities a scenario's faults and probes are
// matched against before the run (Target.Check, CheckScenario).
//
// The package imports the simulator, the faults and the reports (whose
// interfaces it implements), never the engine's counting code or the
// harness's embedded stack.
package target

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/faults"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim"
)

// Target is a loaded target file: what a run drives and checks.
type Target struct {
	// Spec is the validated file.
	Spec Spec
	// Path is the file's path; Dir its directory (where commands run and
	// relative files are found).
	Path, Dir string

	ctl       *controls
	kafkaOpts []kgo.Opt
	closers   []func()
}

// Option tunes Load.
type Option func(*loadCfg)

type loadCfg struct{ kafkaOpts []kgo.Opt }

// KafkaOpts adds franz-go options (SASL, TLS) to every Kafka client the
// target opens (the ingest producer, the lag probe).
func KafkaOpts(opts ...kgo.Opt) Option {
	return func(c *loadCfg) { c.kafkaOpts = append(c.kafkaOpts, opts...) }
}

// Load reads, validates and loads the target file path. Errors in the file
// name the field and the fix.
func Load(path string, opts ...Option) (*Target, error) {
	f, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return New(f.Target, filepath.Dir(abs), opts...), nil
}

// New is the Target of a validated spec whose commands run in dir.
func New(s Spec, dir string, opts ...Option) *Target {
	var cfg loadCfg
	for _, o := range opts {
		o(&cfg)
	}
	t := &Target{Spec: s, Dir: dir, kafkaOpts: cfg.kafkaOpts}
	t.ctl = newControls(t.Spec.Nodes, dir)
	return t
}

// Close closes what the target's readers and writers opened.
func (t *Target) Close() {
	for i := len(t.closers) - 1; i >= 0; i-- {
		t.closers[i]()
	}
	t.closers = nil
}

// Windows are the target's window sizes, smallest first.
func (t *Target) Windows() []time.Duration { return t.Spec.Semantics.Windows }

// Transport is the run's sender transport to the ingest, over up to conns
// connections; Close closes it.
func (t *Target) Transport(conns int) (sim.Transport, error) {
	if h := t.Spec.Ingest.HTTP; h != nil {
		return newHTTPIngest(h, t.Dir, conns)
	}
	spec := t.Spec.Ingest.Kafka
	sec, err := spec.Security.opts(t.Dir, spec.Brokers, "target.ingest.kafka.security")
	if err != nil {
		return nil, err
	}
	k, err := newKafkaIngest(spec, append(sec, t.kafkaOpts...))
	if err != nil {
		return nil, err
	}
	t.closers = append(t.closers, k.cl.Close)
	return k, nil
}

// Querier is the per-window reader (query_api or http_json); nil when the
// target has neither (the store alone is checked).
func (t *Target) Querier() (reports.Querier, error) {
	r := t.Spec.Read
	switch {
	case r.QueryAPI != nil:
		tok, err := secret(r.QueryAPI.Auth.BearerEnv, r.QueryAPI.Auth.BearerFile, t.Dir, "target.read.query_api.auth")
		if err != nil {
			return nil, err
		}
		return client.New(r.QueryAPI.URL, client.Token(tok))
	case r.HTTPJSON != nil:
		cl, err := httpClient(r.HTTPJSON.Headers, r.HTTPJSON.Auth, t.Dir, "target.read.http_json.auth", 16, 30*time.Second)
		if err != nil {
			return nil, err
		}
		return &httpJSON{spec: r.HTTPJSON, client: cl}, nil
	}
	return nil, nil
}

// QueryClient is the countlab query API client (freshness and query load
// probes); nil without read.query_api.
func (t *Target) QueryClient() (*client.Client, error) {
	q := t.Spec.Read.QueryAPI
	if q == nil {
		return nil, nil
	}
	tok, err := secret(q.Auth.BearerEnv, q.Auth.BearerFile, t.Dir, "target.read.query_api.auth")
	if err != nil {
		return nil, err
	}
	return client.New(q.URL, client.Token(tok))
}

// Store is the whole-range reader (influxql or flux); nil without one.
func (t *Target) Store() (reports.Store, error) {
	r := t.Spec.Read
	switch {
	case r.InfluxQL != nil:
		cl, err := httpClient(nil, r.InfluxQL.Auth, t.Dir, "target.read.influxql.auth", 4, 120*time.Second)
		if err != nil {
			return nil, err
		}
		return &influxQLStore{spec: r.InfluxQL, windows: t.Windows(), client: cl}, nil
	case r.Flux != nil:
		tok, err := secret(r.Flux.Auth.BearerEnv, r.Flux.Auth.BearerFile, t.Dir, "target.read.flux.auth")
		if err != nil {
			return nil, err
		}
		return &fluxStore{spec: r.Flux, windows: t.Windows(), token: tok}, nil
	}
	return nil, nil
}

// Faults is what the scenario's faults act on: the nodes (it also
// implements faults.BrokerProcess).
func (t *Target) Faults() faults.Target { return t.ctl }

func (t *Target) hasHealth() bool {
	for _, n := range t.Spec.Nodes {
		if n.Health != "" {
			return true
		}
	}
	return false
}

// Healthy runs every node's health command and returns the first that
// fails (nil when all hold): the pre-flight check of a run.
func (t *Target) Healthy(ctx context.Context) error {
	for _, n := range t.ctl.all {
		if n.Health == "" {
			continue
		}
		if err := t.ctl.run(ctx, n, "health", n.Health); err != nil {
			return err
		}
	}
	return nil
}

// Capabilities are what the target offers faults and probes. The run
// itself adds what it always has (its traffic sender and event clock).
func (t *Target) Capabilities() faults.Capabilities {
	have := faults.Capabilities{}
	t.ctl.capabilities(have)
	have[faults.CapQueryAPI] = t.Spec.Read.QueryAPI != nil
	have[faults.CapNetworkProxies] = len(t.Spec.Links) > 0
	have[faults.CapRecoveryProbe] = len(t.Spec.Recovery.ConsumerGroups) > 0 || t.hasHealth()
	return have
}

// hint is the fix for a capability the target lacks, in target-file terms.
func hint(c faults.Capability) string {
	switch c {
	case faults.CapWorkerControl:
		return "add nodes with role: worker and kill/restart commands to the target file"
	case faults.CapWorkerPause:
		return "give every worker node pause and resume commands"
	case faults.CapBrokerProcess:
		return "add a node with role: broker and kill/restart commands"
	case faults.CapSinkProcess:
		return "add a node with role: store and kill/restart commands"
	case faults.CapQueryAPI:
		return "add read.query_api to the target file, or drop the scenario's slo.max_p99_freshness_ms and slo.max_p99_query_ms (without them the probes are skipped)"
	case faults.CapNetworkProxies:
		return "add target.links (listen, upstream) and point the pipeline at their listen addresses"
	case faults.CapRecoveryProbe:
		return "add recovery.consumer_groups or a health command to the nodes"
	}
	return "faults of this kind run only against the embedded reference stack"
}

// Check matches faults and the run's probes against what the target
// offers, the run's own capabilities (run) added; the error (a
// *faults.MissingError) names the first fault or probe that cannot work
// and the missing capability.
func (t *Target) Check(specs []faults.Spec, probes []Probe, run faults.Capabilities) error {
	have := t.Capabilities()
	for c, ok := range run {
		have[c] = have[c] || ok
	}
	name := "target " + t.Spec.Name
	for _, p := range probes {
		for _, n := range p.Needs {
			if !have[n] {
				return &faults.MissingError{What: "probe " + p.Name, Missing: n, Target: name, Hint: hint(n)}
			}
		}
	}
	if err := faults.Check(specs, have, name, hint); err != nil {
		return err
	}
	if err := checkLinks(specs, t.Spec.Links); err != nil {
		return err
	}
	return checkWorkerIndexes(specs, t.ctl.Workers())
}

// checkWorkerIndexes refuses a worker fault on a worker the target does
// not have.
func checkWorkerIndexes(specs []faults.Spec, workers int) error {
	for _, s := range specs {
		if s.Kind != "worker-crash" && s.Kind != "worker-pause" && s.Kind != "worker-remove" {
			continue
		}
		i := 0
		switch v := s.Params["worker"].(type) {
		case int:
			i = v
		case float64:
			i = int(v)
		}
		if i >= workers {
			return fmt.Errorf("fault %s (%s): worker %d, but the target has %d worker nodes (0..%d)", cmpOr(s.Name, s.Kind), s.Kind, i, workers, workers-1)
		}
	}
	return nil
}

// Probe is a measurement a run takes, with what it needs from the target.
type Probe struct {
	Name  string
	Needs []faults.Capability
}

// The probes a run may take.
var (
	// ProbeFreshness sends tracer events and polls the query API until
	// each is counted.
	ProbeFreshness = Probe{"freshness (probes.tracer_every)", []faults.Capability{faults.CapQueryAPI}}
	// ProbeQueryLoad queries the query API at a rate, for its latency.
	ProbeQueryLoad = Probe{"query load (probes.queries_per_s)", []faults.Capability{faults.CapQueryAPI}}
)
