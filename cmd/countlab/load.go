package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/oracle"
)

// identitiesFile is the name of a shard's acknowledged identities next to
// its truth (what merges the truths of shards with `check --truth A
// --truth B`).
const identitiesFile = "truth.ids"

// maxStartLag is how long after --start a shard may still begin: its
// events' times are that much behind their sends, well within the
// default out-of-orderness.
const maxStartLag = 2 * time.Second

// cmdLoad is a sharded generator: it sends shard I of N of a scenario's
// traffic to a running gateway (`countlab up`, a staging gateway) and
// writes the shard's truth, identities, latency histograms and report;
// `countlab check --truth` of every shard checks the whole, `countlab
// report merge` reports it.
func cmdLoad(ctx context.Context, args []string) error {
	fs := newFlagSet("load")
	shardText := fs.String("shard", "0/1", "send shard I of N of the traffic (0 <= I < N); every shard of a run needs the same scenario, --run-id, --start, --duration and --rate")
	gateway := fs.String("gateway", "http://127.0.0.1:8080", "the ingest gateway's base URL (token from COUNTLAB_TOKEN[_FILE])")
	runID := fs.String("run-id", "", "the event id and key prefix the shards share (required with N > 1; default r<time>-)")
	startText := fs.String("start", "", "the shared start: RFC 3339 or unix ms; a shard waits for it and event times are start + intended send time (default now)")
	outDir := fs.String("out", "", "write "+run.TruthFile+", "+identitiesFile+", "+reports.HistogramFile+" and report.json/md/html here (required)")
	duration := fs.Duration("duration", 0, "override the scenario's duration")
	rate := fs.Float64("rate", 0, "override the scenario's whole rate, events/s, of every shard together (constant rates)")
	name, err := parseWithPositional(fs, args, "SCENARIO")
	if err != nil {
		return err
	}
	shard, err := sim.ParseShard(*shardText)
	if err != nil {
		return usagef("--shard: %v", err)
	}
	if *outDir == "" {
		return usagef("--out is required (the shard's directory)")
	}
	if shard.N > 1 && *runID == "" {
		return usagef("--run-id is required with --shard I/N, N > 1 (the same for every shard, e.g. --run-id r1-)")
	}
	start := time.Now()
	if *startText != "" {
		if start, err = parseStart(*startText); err != nil {
			return usagef("--start: %v", err)
		}
		if late := time.Since(start); late > maxStartLag {
			return usagef("--start %s is %s in the past: start every shard before it (event times would lag their sends)", *startText, late.Round(time.Millisecond))
		}
	}
	sc, err := scenarios.Lookup(name)
	if err != nil {
		return usageError{Err: err}
	}
	if *duration > 0 {
		sc.Duration = *duration
	}
	if *rate > 0 {
		if sc.Traffic.Rate.Shape != "constant" && sc.Traffic.Rate.Shape != "" {
			return usagef("--rate: scenario %s's rate is %s, not constant", sc.Name, sc.Traffic.Rate.Shape)
		}
		sc.Traffic.Rate.EventsPerS = *rate
	}
	if err := sc.Validate(); err != nil {
		return usageError{Err: err}
	}
	if len(sc.Faults) > 0 || sc.RandomFaults != nil {
		return usagef("scenario %s has faults: a sharded generator sends traffic only (use countlab run)", sc.Name)
	}
	id := *runID
	if id == "" {
		id = "r" + strconv.FormatInt(start.UnixMilli(), 36) + "-"
	}
	token, _ := tokenFromEnv()
	var mix sim.Mix
	for _, r := range sc.Traffic.RouteList() {
		if r.Via == "kafka" {
			return usagef("scenario %s sends via Kafka: a sharded generator sends to a gateway only", sc.Name)
		}
		format, err := sim.ParseFormat(r.Format)
		if err != nil {
			return usageError{Err: err}
		}
		mix = append(mix, sim.NewGateway(*gateway, token, format, sc.Traffic.Connections))
	}
	var tr sim.Transport = mix
	if len(mix) == 1 {
		tr = mix[0]
	}
	gcfg, err := sc.GeneratorConfig(id, start)
	if err != nil {
		return usageError{Err: err}
	}
	gcfg.KeyPrefix = id + gcfg.KeyPrefix // a running stack holds other runs' keys
	gen, err := sim.NewGenerator(gcfg)
	if err != nil {
		return usageError{Err: err}
	}
	truth, err := run.NewTruth(sc.Engine.Windows, sc.Engine.Lateness, sc.Engine.OutOfOrderness)
	if err != nil {
		return usageError{Err: err}
	}
	snd, err := sim.NewSender(sim.SenderConfig{Generator: gen, Schedule: sc.Schedule(), Duration: sc.Duration, Transport: tr,
		Connections: sc.Traffic.Connections, BatchMax: sc.Traffic.Batch.MaxEvents, FlushEvery: sc.Traffic.Batch.Flush,
		Truth: run.TruthOf(truth, false), Shard: shard})
	if err != nil {
		return usageError{Err: err}
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	if wait := time.Until(start); wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fmt.Printf("countlab load %s: shard %s, run id %s (keys %s*), %s to %s...\n", sc.Name, shard, id, gcfg.KeyPrefix, sc.Duration, *gateway)
	t0 := time.Now()
	sendErr := snd.Run(ctx)
	took := time.Since(t0)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	p := snd.Progress()
	if sendErr != nil {
		fmt.Fprintf(os.Stderr, "countlab load: transport error (the run went on): %v\n", sendErr)
	}
	st := truth.Stats()
	rep := &reports.Report{Scenario: sc.Name, StartedAt: start.UTC(), DurationS: took.Seconds(), Config: sc.ConfigMap(),
		Throughput: reports.Throughput{OfferedEventsPerS: float64(p.Generated) / sc.Duration.Seconds(), AchievedEventsPerS: float64(p.Acked) / took.Seconds()},
		Latency:    reports.Latencies{IngestAck: reports.FromHistogram(snd.Histogram())},
		Traffic: reports.Traffic{Generated: p.Generated, Acked: p.Acked, Rejected: p.Rejected, Failed: p.Failed, Resent: p.Resent,
			Throttled: p.Throttled, Errors: p.Errors, Duplicates: st.Duplicates, MaxLagMS: float64(p.MaxLag.Microseconds()) / 1000},
		Pass: p.Acked > 0 && p.Failed == 0 && st.Mismatches == 0, Provenance: provenance(), Shards: 1}
	for _, save := range []func() error{
		func() error { return truth.Save(filepath.Join(*outDir, run.TruthFile)) },
		func() error { return truth.SaveIdentities(filepath.Join(*outDir, identitiesFile)) },
		func() error {
			return reports.Histograms{IngestAck: snd.Histogram()}.WriteFile(filepath.Join(*outDir, reports.HistogramFile))
		},
		func() error { return rep.WriteFiles(*outDir) },
	} {
		if err := save(); err != nil {
			return err
		}
	}
	fmt.Printf("  shard %s: %d sent, %d acknowledged, %d rejected, %d failed; %d distinct expected; truth %s\n", shard,
		p.Generated, p.Acked, p.Rejected, p.Failed, st.Distinct, filepath.Join(*outDir, run.TruthFile))
	if !rep.Pass {
		return exitError{1, fmt.Errorf("shard %s: %d failed sends, %d contract mismatches, %d acknowledged", shard, p.Failed, st.Mismatches, p.Acked)}
	}
	return nil
}

// parseStart reads an RFC 3339 time or unix milliseconds.
func parseStart(s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want RFC 3339 or unix milliseconds (got %q)", s)
	}
	return t, nil
}

// loadTruths loads the truth of every path (a truth file or a directory
// holding truth.bin) and merges them (oracle.Merge) with their
// identities (truth.ids beside each), so that a cross-shard duplicate
// fails the check; a shard without identities is merged by its windows
// alone, with a warning to warn.
func loadTruths(paths []string, warn io.Writer) (*oracle.Oracle, error) {
	var all *oracle.Oracle
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			p = filepath.Join(p, run.TruthFile)
		}
		o, err := oracle.Load(p)
		if err != nil {
			return nil, usagef("--truth %s: %v", p, err)
		}
		if len(paths) == 1 {
			return o, nil
		}
		ids := strings.TrimSuffix(p, filepath.Ext(p)) + filepath.Ext(identitiesFile)
		switch err := o.LoadIdentities(ids); {
		case errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(warn, "countlab check: %s has no %s beside it: its overlap with the other shards is not checked\n", p, filepath.Base(ids))
		case err != nil:
			return nil, usagef("--truth %s: %v", p, err)
		}
		if all == nil {
			all = o
			continue
		}
		if err := all.Merge(o); errors.Is(err, oracle.ErrShardsOverlap) {
			return nil, exitError{1, fmt.Errorf("--truth %s: %w", p, err)}
		} else if err != nil {
			return nil, usagef("--truth %s: %v", p, err)
		}
	}
	return all, nil
}
