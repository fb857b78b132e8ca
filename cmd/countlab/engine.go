package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/harness/stack"
)

// cmdEngine runs one aggregator worker (one consumer-group member) until
// SIGTERM/Ctrl-C. It prints "engine ready" once its first assignment is
// restored.
func cmdEngine(ctx context.Context, args []string) error {
	fs := newFlagSet("engine")
	host, _ := os.Hostname()
	var kf kafkaFlags
	kf.register(fs)
	var (
		prefix      = fs.String("topic-prefix", "", "prefix of every topic name (also of the dedup changelog <prefix>engine-dedup)")
		group       = fs.String("group", aggregate.DefaultGroup, "consumer group")
		txnID       = fs.String("txn-id", "countlab-engine-"+host+"-0", "transactional id: unique per live worker, reused by its restart")
		instanceID  = fs.String("instance-id", "", "static group membership id: a restart with the same id takes over at once (empty: dynamic membership)")
		sessionTO   = fs.Duration("session-timeout", 0, "group session timeout: how long a crashed worker keeps its partitions (0: the client default, 45s)")
		windows     = fs.String("windows", "1m", "tumbling window sizes, comma-separated (e.g. 10s,1m,1h)")
		lateness    = fs.Duration("lateness", aggregate.DefaultLateness, "allowed lateness after a window's end (event time)")
		ooo         = fs.Duration("out-of-orderness", aggregate.DefaultOutOfOrderness, "bounded out-of-orderness of the watermark")
		idle        = fs.Duration("idle-timeout", aggregate.DefaultIdleTimeout, "a partition without records this long stops holding back the watermark")
		horizon     = fs.Duration("dedup-horizon", aggregate.DefaultDedupHorizon, "how long (event time) event ids are remembered; >= largest window + lateness + out-of-orderness")
		interval    = fs.Duration("commit-interval", aggregate.DefaultCommitInterval, "transaction commit interval")
		maxInterval = fs.Duration("max-commit-interval", aggregate.DefaultMaxCommitInterval, "longest a batch stays open while the worker is behind (its lag, up to this; <= --commit-interval: off)")
		metricsAddr = fs.String("metrics-listen", "", "serve Prometheus metrics on http://ADDR/metrics (e.g. 127.0.0.1:0; empty: none)")
		logLevel    = fs.String("log-level", "info", "log level on stderr: debug, info, warn, error")
		atLeastOnce = fs.Bool("at-least-once-UNSAFE", false, "TEST ONLY: no transactions, no dedup restore (shows that checks catch duplicates)")
		plantBug    = fs.Int("plant-bug", 0, "TEST ONLY: mis-count 1 event in N (0: off)")
		hot         = hotKeyFlag{}
		brokerMap   = fs.String("broker-map", "", "dial broker addresses through others, from=to[,from=to...] (e.g. network-fault proxies; the addresses the cluster advertises are mapped too)")
	)
	ef := registerEngineEnrich(fs)                      // enrich.go
	pprofAddr := fs.String("pprof", "", pprofFlagUsage) // pprof.go
	fs.Var(hot, "hot-key", "a hot counted key split over N partitions, KEY=N (repeatable; the gateway's --hot-key: it decides each event's canonical partition)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	conn, err := kf.connect(ctx) // kafkaconnect.go: a refused login is exit 2
	if err != nil {
		return err
	}
	if conn.BrokerMap, err = kafka.ParseBrokerMap(*brokerMap); err != nil {
		return usagef("--broker-map: %v", err)
	}
	sizes, err := parseWindows("windows", *windows)
	if err != nil {
		return err
	}
	log, err := newLogger(os.Stderr, *logLevel)
	if err != nil {
		return err
	}
	stopPprof, err := servePprof(*pprofAddr)
	if err != nil {
		return err
	}
	defer stopPprof()

	reg := stack.ProcessRegistry()
	opts := []aggregate.Opt{
		aggregate.Conn(conn),
		aggregate.TopicPrefix(*prefix),
		aggregate.Group(*group),
		aggregate.TransactionalID(*txnID),
		aggregate.InstanceID(*instanceID),
		aggregate.SessionTimeout(*sessionTO),
		aggregate.Windows(sizes...),
		aggregate.AllowedLateness(*lateness),
		aggregate.OutOfOrderness(*ooo),
		aggregate.IdleTimeout(*idle),
		aggregate.DedupHorizon(*horizon),
		aggregate.CommitInterval(*interval),
		aggregate.MaxCommitInterval(*maxInterval),
		aggregate.Registerer(reg),
		aggregate.Logger(log),
		aggregate.HotKeys(hot),
	}
	if *atLeastOnce {
		log.Warn("AT-LEAST-ONCE TEST MODE: totals may double count after a crash")
		opts = append(opts, aggregate.AtLeastOnce())
	}
	if *plantBug > 0 {
		log.Warn("PLANTED BUG: 1 event in N is mis-counted", "n", *plantBug)
		opts = append(opts, aggregate.PlantBug(*plantBug))
	}
	eo, err := ef.opts(ctx, conn, *prefix, *txnID, reg, log)
	if err != nil {
		return err
	}
	w, err := aggregate.New(append(opts, eo...)...)
	if err != nil {
		return usageError{Err: err}
	}

	if *metricsAddr != "" {
		addr, stop, err := serveMetrics(*metricsAddr, reg, log)
		if err != nil {
			return err
		}
		defer stop()
		fmt.Printf("engine metrics on http://%s/metrics\n", addr)
	}

	go func() {
		select {
		case <-w.Ready():
			// os.Stdout is unbuffered: the line reaches a waiting parent at once.
			fmt.Println("engine ready")
		case <-ctx.Done():
		}
	}()
	if err := w.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
