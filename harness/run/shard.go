package run

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/countlab/countlab/harness"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/oracle"
)

// IdentitiesFile is the name of a shard's acknowledged identities next to
// its truth (what merges the truths of shards: `countlab check --truth A
// --truth B`, oracle.Merge).
const IdentitiesFile = "truth.ids"

// ShardConfig is one shard of a sharded load (countlab load).
type ShardConfig struct {
	// Gateway is the ingest gateway's base URL, Token its bearer token
	// ("" : none).
	Gateway, Token string
	// Shard is which shard of the traffic this one sends (I of N).
	Shard sim.Shard
	// RunID is the event id and key prefix every shard shares ("" : r
	// and Start in base 36, then -).
	RunID string
	// Start is the shared start: the shard waits for it, and event
	// times are Start + the intended send time.
	Start time.Time
	// Out is the directory the truth, identities, histograms and report
	// go to.
	Out string
	// Output is where the start and summary lines go, Warnings a
	// transport error (default nowhere).
	Output, Warnings io.Writer
	// Provenance is what the report says of the build and the machine.
	Provenance *reports.Provenance
}

// ShardResult is what a shard sent and wrote.
type ShardResult struct {
	Shard    sim.Shard
	Report   *reports.Report
	Progress sim.Progress
	Truth    oracle.Stats
}

// Err is nil when the shard passed, else why not.
func (r *ShardResult) Err() error {
	if r.Report.Pass {
		return nil
	}
	return fmt.Errorf("shard %s: %d failed sends, %d contract mismatches, %d acknowledged", r.Shard, r.Progress.Failed, r.Truth.Mismatches, r.Progress.Acked)
}

// Shard sends shard c.Shard of sc's traffic to a running gateway and
// writes the shard's truth, identities, latency histograms and report to
// c.Out; `countlab check --truth` of every shard checks the whole, and
// `countlab report merge` reports it. A scenario it cannot send (faults,
// Kafka routes) is a harness.ConfigError.
func Shard(ctx context.Context, sc *scenarios.Scenario, c ShardConfig) (*ShardResult, error) {
	out, warn := orDiscard(c.Output), orDiscard(c.Warnings)
	if len(sc.Faults) > 0 || sc.RandomFaults != nil {
		return nil, harness.Configf("scenario %s has faults: a sharded generator sends traffic only (use countlab run)", sc.Name)
	}
	id := c.RunID
	if id == "" {
		id = "r" + strconv.FormatInt(c.Start.UnixMilli(), 36) + "-"
	}
	tr, err := gatewayTransport(sc, c.Gateway, c.Token)
	if err != nil {
		return nil, err
	}
	gcfg, err := sc.GeneratorConfig(id, c.Start)
	if err != nil {
		return nil, harness.ConfigError{Err: err}
	}
	gcfg.KeyPrefix = id + gcfg.KeyPrefix // a running stack holds other runs' keys
	gen, err := sim.NewGenerator(gcfg)
	if err != nil {
		return nil, harness.ConfigError{Err: err}
	}
	truth, err := NewTruth(sc.Engine.Windows, sc.Engine.Lateness, sc.Engine.OutOfOrderness)
	if err != nil {
		return nil, harness.ConfigError{Err: err}
	}
	snd, err := sim.NewSender(sim.SenderConfig{Generator: gen, Schedule: sc.Schedule(), Duration: sc.Duration, Transport: tr,
		Connections: sc.Traffic.Connections, BatchMax: sc.Traffic.Batch.MaxEvents, FlushEvery: sc.Traffic.Batch.Flush,
		Truth: TruthOf(truth, false), Shard: c.Shard})
	if err != nil {
		return nil, harness.ConfigError{Err: err}
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, err
	}
	if wait := time.Until(c.Start); wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	fmt.Fprintf(out, "countlab load %s: shard %s, run id %s (keys %s*), %s to %s...\n", sc.Name, c.Shard, id, gcfg.KeyPrefix, sc.Duration, c.Gateway)
	t0 := time.Now()
	sendErr := snd.Run(ctx)
	took := time.Since(t0)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	p := snd.Progress()
	if sendErr != nil {
		fmt.Fprintf(warn, "countlab load: transport error (the run went on): %v\n", sendErr)
	}
	st := truth.Stats()
	rep := &reports.Report{Scenario: sc.Name, StartedAt: c.Start.UTC(), DurationS: took.Seconds(), Config: sc.ConfigMap(),
		Throughput: reports.Throughput{OfferedEventsPerS: float64(p.Generated) / sc.Duration.Seconds(), AchievedEventsPerS: float64(p.Acked) / took.Seconds()},
		Latency:    reports.Latencies{IngestAck: reports.FromHistogram(snd.Histogram())},
		Traffic: reports.Traffic{Generated: p.Generated, Acked: p.Acked, Rejected: p.Rejected, Failed: p.Failed, Resent: p.Resent,
			Throttled: p.Throttled, Errors: p.Errors, Duplicates: st.Duplicates, MaxLagMS: float64(p.MaxLag.Microseconds()) / 1000},
		Pass: p.Acked > 0 && p.Failed == 0 && st.Mismatches == 0, Provenance: c.Provenance, Shards: 1}
	for _, save := range []func() error{
		func() error { return truth.Save(filepath.Join(c.Out, TruthFile)) },
		func() error { return truth.SaveIdentities(filepath.Join(c.Out, IdentitiesFile)) },
		func() error {
			return reports.Histograms{IngestAck: snd.Histogram()}.WriteFile(filepath.Join(c.Out, reports.HistogramFile))
		},
		func() error { return rep.WriteFiles(c.Out) },
	} {
		if err := save(); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(out, "  shard %s: %d sent, %d acknowledged, %d rejected, %d failed; %d distinct expected; truth %s\n", c.Shard,
		p.Generated, p.Acked, p.Rejected, p.Failed, st.Distinct, filepath.Join(c.Out, TruthFile))
	return &ShardResult{Shard: c.Shard, Report: rep, Progress: p, Truth: st}, nil
}

// gatewayTransport sends every route of sc's traffic to the gateway at
// url (a sharded generator cannot send via Kafka).
func gatewayTransport(sc *scenarios.Scenario, url, token string) (sim.Transport, error) {
	var mix sim.Mix
	for _, r := range sc.Traffic.RouteList() {
		if r.Via == "kafka" {
			return nil, harness.Configf("scenario %s sends via Kafka: a sharded generator sends to a gateway only", sc.Name)
		}
		format, err := sim.ParseFormat(r.Format)
		if err != nil {
			return nil, harness.ConfigError{Err: err}
		}
		mix = append(mix, sim.NewGateway(url, token, format, sc.Traffic.Connections))
	}
	if len(mix) == 1 {
		return mix[0], nil
	}
	return mix, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
