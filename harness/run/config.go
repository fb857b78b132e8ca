package run

import (
	"context"
	"io"
	"log/slog"
	"slices"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/harness"
	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim/oracle"
)

// Opt configures a Runner (New).
type Opt func(*cfg)

// cfg is a Runner's configuration; defaults in New, checked by validate.
type cfg struct {
	out, errw io.Writer
	log       *slog.Logger

	target    *Target     // nil: the embedded stack
	stackOpts []stack.Opt // after those the scenario implies

	kafka       kafka.Conn    // external cluster (Brokers set)
	influx      influx.Config // external InfluxDB (URL set)
	topicPrefix *string       // nil: default
	isolateKeys bool

	allowChaos   []string
	deleteTopics bool
	faultSeed    *uint64

	reportDir string
	baseline  []reports.Run

	token      string
	provenance *reports.Provenance

	atLeastOnce bool
	plantBug    int
	during      []During
}

// Output is where the run prints its progress and verdict lines (default
// nowhere).
func Output(w io.Writer) Opt { return func(c *cfg) { c.out = w } }

// Progress is where the live progress line goes (default nowhere).
func Progress(w io.Writer) Opt { return func(c *cfg) { c.errw = w } }

// Logger is the harness's and the stack's logger (default: nowhere).
func Logger(l *slog.Logger) Opt { return func(c *cfg) { c.log = l } }

// WithTarget makes the run drive t instead of starting the embedded
// stack (harness/target builds one from a target file). Stack options
// are then ignored.
func WithTarget(t *Target) Opt { return func(c *cfg) { c.target = t } }

// Stack adds options of the embedded stack, applied after those the
// scenario implies (its engine section, what its faults need): a flag
// given on the command line overrides the scenario.
func Stack(opts ...stack.Opt) Opt { return func(c *cfg) { c.stackOpts = append(c.stackOpts, opts...) } }

// Provenance is what every report says of the build, the machine and the
// command line (default: reports.NewProvenance of os.Args).
func Provenance(p *reports.Provenance) Opt { return func(c *cfg) { c.provenance = p } }

// Token is the bearer token of the embedded stack's gateway and query
// service (COUNTLAB_TOKEN; "" : none).
func Token(t string) Opt { return func(c *cfg) { c.token = t } }

// Kafka makes the embedded stack use this external cluster (brokers,
// SASL, TLS): an external target, which faults may act on only when
// AllowChaos("broker") opts it in. Its topics get the prefix
// countlab-<run id>- unless TopicPrefix is given.
func Kafka(conn kafka.Conn) Opt { return func(c *cfg) { c.kafka = conn } }

// Influx makes the embedded stack's sink write to this external InfluxDB:
// an external target (AllowChaos("influx")).
func Influx(ic influx.Config) Opt { return func(c *cfg) { c.influx = ic } }

// TopicPrefix prefixes the run's topic names.
func TopicPrefix(p string) Opt { return func(c *cfg) { c.topicPrefix = &p } }

// IsolateKeys gives the run's keys a prefix of their own: for a store or
// data dir that may hold totals of earlier runs (implied by Kafka and
// Influx).
func IsolateKeys(on bool) Opt { return func(c *cfg) { c.isolateKeys = on } }

// AllowChaos opts external targets in to the faults that need control
// over them: "broker" (broker-errors, broker-crash), "influx"
// (sink-outage).
func AllowChaos(targets ...string) Opt {
	return func(c *cfg) { c.allowChaos = append(c.allowChaos, targets...) }
}

// DeleteTopics deletes, at the end, every topic of the external cluster
// whose name begins with the run's topic prefix.
func DeleteTopics(on bool) Opt { return func(c *cfg) { c.deleteTopics = on } }

// FaultSeed overrides the seed of the scenario's random_faults.
func FaultSeed(seed uint64) Opt { return func(c *cfg) { c.faultSeed = &seed } }

// ReportDir writes report.json, report.md, report.html and truth.bin of
// the run there.
func ReportDir(dir string) Opt { return func(c *cfg) { c.reportDir = dir } }

// Baseline gates the run against these earlier runs (reports.LoadRuns);
// needs ReportDir.
func Baseline(runs []reports.Run) Opt { return func(c *cfg) { c.baseline = runs } }

// AtLeastOnceUNSAFE (TEST ONLY) runs the embedded engine without
// transactions or dedup restore, so that a crash double counts.
func AtLeastOnceUNSAFE(on bool) Opt { return func(c *cfg) { c.atLeastOnce = on } }

// PlantBugUNSAFE (TEST ONLY) adds an engine worker that mis-counts 1
// event in n (0: none).
func PlantBugUNSAFE(n int) Opt { return func(c *cfg) { c.plantBug = n } }

// During is work run beside the traffic, such as a rolling check (issue
// 15): started when the traffic starts with ctx cancelled when it ends
// (or the run aborts); the run waits for it before the end-of-run check.
// An error is reported as a failed check of the run.
type During func(ctx context.Context, l *Live) error

// Live is what a During sees of the running run.
type Live struct {
	// Target is the system under test.
	Target *Target
	// Truth is the run's truth (it grows while the traffic runs).
	Truth *oracle.Oracle
	// KeyPrefix is before every key of the run.
	KeyPrefix string
	// Abort aborts the run at once (condition cond, e.g. "lost_acked").
	Abort func(cond, reason string)
}

// WithDuring adds work run beside the traffic.
func WithDuring(d During) Opt { return func(c *cfg) { c.during = append(c.during, d) } }

func (c *cfg) validate() error {
	for _, t := range c.allowChaos {
		if t != "broker" && t != "influx" {
			return harness.Configf("--allow-chaos: unknown target %q (broker, influx)", t)
		}
	}
	if c.deleteTopics {
		if len(c.kafka.Brokers) == 0 {
			return harness.Configf("--delete-topics deletes the run's topics on an external cluster: give --brokers (the embedded broker's topics go with its data)")
		}
		if c.topicPrefix != nil && *c.topicPrefix == "" {
			return harness.Configf("--delete-topics deletes every topic beginning with the run's topic prefix: give a non-empty --topic-prefix (or leave it out for countlab-<run id>-)")
		}
	}
	if len(c.baseline) > 0 && c.reportDir == "" {
		return harness.Configf("run: a baseline gate needs a report dir")
	}
	return nil
}

func (c *cfg) allowed(target string) bool { return slices.Contains(c.allowChaos, target) }
