package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/countlab/countlab/engine/broker"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/harness/stack"
)

// cmdBroker runs the embedded Kafka broker (kfake) as its own process, so
// that a fault can kill -9 it and a restart with the same data dir finds
// every acknowledged record, committed offset and transaction.
//
// It prints "broker listening on ADDR[,ADDR...]" and then "ready" on
// stdout once the topics exist, and runs until SIGTERM or Ctrl-C.
func cmdBroker(ctx context.Context, args []string) error {
	fs := newFlagSet("broker")
	listen := fs.String("listen", "127.0.0.1:9092", "comma-separated host:port addresses, one broker each (port 0: a free port); loopback unless you name another address")
	dataDir := fs.String("data-dir", "", "persistence directory, reloaded on restart (empty: a temporary directory removed at exit)")
	partitions := fs.Int("partitions", broker.DefaultPartitions, "partition count of the topics created")
	prefix := fs.String("topic-prefix", "", "prefix for the topic names (events, aggregates, late, dead-letter)")
	syncWrites := fs.Bool("sync-writes", false, "fsync every batch before acknowledging it (durable against a machine crash, not just a process kill; slower)")
	logLevel := fs.String("log-level", "info", "log level on stderr: debug, info, warn, error")
	metricsAddr := fs.String("metrics-listen", "", "serve the process's Prometheus metrics (Go runtime, memory) on http://ADDR/metrics (empty: none)")
	ret := retentionFlags(fs)
	var sasl kafka.Flags
	sasl.RegisterSASL(fs) // --sasl-*: require this user (see brokerSASL)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := ret.Validate(0); err != nil {
		return usagef("--retention-*: %v", err)
	}
	saslOpts, err := brokerSASL(&sasl)
	if err != nil {
		return err
	}

	addrs := kafka.ParseBrokers(*listen)
	if len(addrs) == 0 {
		return usagef("--listen is empty: give host:port[,host:port...], e.g. --listen 127.0.0.1:9092")
	}
	if err := broker.CheckListen(addrs...); err != nil {
		return usagef("--listen: %v", err)
	}
	if *partitions <= 0 || *partitions > 1<<16 {
		return usagef("--partitions must be between 1 and 65536, got %d", *partitions)
	}
	log, err := newLogger(os.Stderr, *logLevel)
	if err != nil {
		return err
	}

	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "countlab-broker-")
		if err != nil {
			return fmt.Errorf("temporary data dir: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}

	opts := []broker.Opt{
		broker.Listen(addrs...),
		broker.DataDir(dir),
		broker.Partitions(int32(*partitions)),
		broker.Topics(kafka.DefaultTopics(*prefix)),
		broker.Logger(log),
		broker.Retention(*ret, 0),
	}
	if *syncWrites {
		opts = append(opts, broker.SyncWrites())
	}
	opts = append(opts, saslOpts...)
	b, err := broker.New(opts...)
	if err != nil {
		return err
	}
	defer b.Close()
	if *metricsAddr != "" {
		addr, stop, err := serveMetrics(*metricsAddr, stack.ProcessRegistry(), log)
		if err != nil {
			return err
		}
		defer stop()
		fmt.Printf("broker metrics on http://%s/metrics\n", addr)
	}

	// os.Stdout is unbuffered: each line reaches a waiting parent at once.
	fmt.Printf("broker listening on %s\n", strings.Join(b.Addrs(), ","))
	fmt.Println("ready")

	<-ctx.Done()
	log.Info("broker stopping", "data_dir", dir)
	b.Close()
	return nil
}

// retentionFlags are `countlab broker`'s --retention-* flags (a scenario's
// topic_retention: section, kafka.Retention).
func retentionFlags(fs *flag.FlagSet) *kafka.Retention {
	r := new(kafka.Retention)
	fs.DurationVar(&r.Events, "retention-events", 0, "drop events-topic records older than this (0: keep everything; at least 1m, longer than the engine may lag)")
	fs.DurationVar(&r.Side, "retention-side", 0, "the same for the late and dead-letter topics (0: keep everything)")
	fs.DurationVar(&r.Changelog, "retention-changelog", 0, "the same for the engine's dedup changelog, set when it appears (0: keep everything; at least twice the dedup horizon)")
	fs.DurationVar(&r.Aggregates, "retention-aggregates", 0, "the same for the compacted aggregates topic, on top of its compaction (0: compaction only; longer than a window may stay open plus the sink's lag)")
	return r
}
