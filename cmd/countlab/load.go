package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/oracle"
)

// maxStartLag is how long after --start a shard may still begin: its
// events' times are that much behind their sends, well within the
// default out-of-orderness.
const maxStartLag = 2 * time.Second

// cmdLoad is a sharded generator: the flags of run.Shard, which sends
// shard I of N of a scenario's traffic to a running gateway (`countlab
// up`, a staging gateway) and writes the shard's truth, identities,
// latency histograms and report.
func cmdLoad(ctx context.Context, args []string) error {
	fs := newFlagSet("load")
	shardText := fs.String("shard", "0/1", "send shard I of N of the traffic (0 <= I < N); every shard of a run needs the same scenario, --run-id, --start, --duration and --rate")
	gateway := fs.String("gateway", "http://127.0.0.1:8080", "the ingest gateway's base URL (token from COUNTLAB_TOKEN[_FILE])")
	runID := fs.String("run-id", "", "the event id and key prefix the shards share (required with N > 1; default r<time>-)")
	startText := fs.String("start", "", "the shared start: RFC 3339 or unix ms; a shard waits for it and event times are start + intended send time (default now)")
	outDir := fs.String("out", "", "write "+run.TruthFile+", "+run.IdentitiesFile+", "+reports.HistogramFile+" and report.json/md/html here (required)")
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
	token, _ := tokenFromEnv()
	res, err := run.Shard(ctx, sc, run.ShardConfig{Gateway: *gateway, Token: token, Shard: shard, RunID: *runID, Start: start,
		Out: *outDir, Output: os.Stdout, Warnings: os.Stderr, Provenance: provenance()})
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return exitError{1, err}
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

// loadTruths is run.LoadTruths of the --truth paths: the shards
// overlapping fails the check (exit 1), any other error is a usage error.
func loadTruths(paths []string, warn io.Writer) (*oracle.Oracle, error) {
	o, err := run.LoadTruths(paths, warn)
	switch {
	case errors.Is(err, oracle.ErrShardsOverlap):
		return nil, exitError{1, fmt.Errorf("--truth %w", err)}
	case err != nil:
		return nil, usageError{Err: fmt.Errorf("--truth %w", err)}
	}
	return o, nil
}
