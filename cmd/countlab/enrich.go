package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/enrich"
	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/scenarios"
)

// The attribute roll-up's wiring (engine/enrich): the stack's metadata and
// attribute totals topics, one metadata follower (bbolt store) per engine
// worker, the attribute sink, and `countlab engine --enrich`.

// applyScenarioEnrichment turns the roll-up on for a scenario with an
// enrichment section.
func applyScenarioEnrichment(sf *stackFlags, sc *scenarios.Scenario) {
	if sc.Enrichment != nil {
		sf.enrichAttrs = joinNames(sc.Enrichment.Attributes)
	}
}

func joinNames(ns []string) string {
	out := ""
	for i, n := range ns {
		if i > 0 {
			out += ","
		}
		out += n
	}
	return out
}

// ensureEnrich creates the enrichment topics and the stores' directory
// when the roll-up is on.
func (s *stack) ensureEnrich(ctx context.Context, f *stackFlags, dataDir string) error {
	if f.enrichAttrs == "" {
		return nil
	}
	if _, err := enrich.ParseAttrNames(f.enrichAttrs); err != nil {
		return usageError{err}
	}
	f.enrichDir = filepath.Join(dataDir, "enrich")
	if err := os.MkdirAll(f.enrichDir, 0o700); err != nil {
		return err
	}
	cl, err := s.conn.NewClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	return enrich.EnsureTopics(ctx, cl, f.topicPrefix+enrich.DefaultTopic, f.topicPrefix+enrich.DefaultTotalsTopic, int32(f.partitions), int32(f.partitions))
}

// enrichOpts are an in-process worker's aggregate options for the
// roll-up: its follower runs until the stack closes.
func (s *stack) enrichOpts(f *stackFlags, slot int, log *slog.Logger) ([]aggregate.Opt, error) {
	if f.enrichAttrs == "" {
		return nil, nil
	}
	opt, fol, err := enrichWorker(s.net.engineConn(s.conn), f.topicPrefix, f.enrichAttrs,
		filepath.Join(f.enrichDir, "engine-"+strconv.Itoa(slot)+".db"), nil, log)
	if err != nil {
		return nil, err
	}
	s.goRun("engine", func(ctx context.Context) error {
		defer fol.Close()
		return fol.Run(ctx)
	}, s.runCtx)
	return []aggregate.Opt{opt}, nil
}

// enrichWorker makes a worker's follower and its aggregate option.
func enrichWorker(conn kafka.Conn, prefix, attrs, store string, reg prometheus.Registerer, log *slog.Logger) (aggregate.Opt, *enrich.Follower, error) {
	names, err := enrich.ParseAttrNames(attrs)
	if err != nil {
		return nil, nil, usageError{err}
	}
	fol, err := enrich.NewFollower(enrich.FollowConn(conn), enrich.FollowTopic(prefix+enrich.DefaultTopic),
		enrich.StorePath(store), enrich.FollowLogger(log), enrich.FollowRegisterer(reg))
	if err != nil {
		return nil, nil, err
	}
	return aggregate.Enrich(fol, prefix+enrich.DefaultTotalsTopic, names...), fol, nil
}

// startEnrichSink starts the attribute totals' sink.
func (s *stack) startEnrichSink(f *stackFlags, ic influx.Config, log *slog.Logger) error {
	if f.enrichAttrs == "" {
		return nil
	}
	sk, err := enrich.NewSink(enrich.SinkConn(s.conn), enrich.SinkTopic(f.topicPrefix+enrich.DefaultTotalsTopic),
		enrich.SinkGroup(f.topicPrefix+"countlab-attr-sink"), enrich.SinkInflux(ic), enrich.SinkLogger(log.With("part", "attr-sink")))
	if err != nil {
		return err
	}
	s.goRun("sink", func(ctx context.Context) error {
		defer sk.Close()
		return sk.Run(ctx)
	}, s.runCtx)
	return nil
}

// enrichProcArgs are a worker process's flags for the roll-up.
func enrichProcArgs(f *stackFlags, i int) []string {
	if f.enrichAttrs == "" {
		return nil
	}
	return []string{"--enrich", f.enrichAttrs, "--enrich-store", filepath.Join(f.enrichDir, "engine-"+strconv.Itoa(i)+".db")}
}

// engineEnrichFlags are `countlab engine`'s roll-up flags.
type engineEnrichFlags struct{ attrs, store *string }

func registerEngineEnrich(fs *flag.FlagSet) engineEnrichFlags {
	return engineEnrichFlags{
		attrs: fs.String("enrich", "", "roll the counts up by these key attributes, comma-separated (e.g. channel), from the <prefix>metadata topic (engine/enrich)"),
		store: fs.String("enrich-store", "", "the worker's metadata store file (bbolt; rebuilt from the topic when missing; default: a file in the temp dir)"),
	}
}

// opts starts the follower (until ctx is done) and returns the option.
func (e engineEnrichFlags) opts(ctx context.Context, conn kafka.Conn, prefix, txnID string, reg prometheus.Registerer, log *slog.Logger) ([]aggregate.Opt, error) {
	if *e.attrs == "" {
		return nil, nil
	}
	store := *e.store
	if store == "" {
		store = filepath.Join(os.TempDir(), "countlab-enrich-"+txnID+".db")
	}
	opt, fol, err := enrichWorker(conn, prefix, *e.attrs, store, reg, log)
	if err != nil {
		return nil, err
	}
	go func() {
		if err := fol.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("metadata follower stopped", "err", err)
			fmt.Fprintln(os.Stderr, "countlab engine: metadata follower stopped:", err)
			os.Exit(1)
		}
	}()
	return []aggregate.Opt{opt}, nil
}
