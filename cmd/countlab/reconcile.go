package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/enrich"
	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/reconcile"
)

// cmdReconcile recounts windows from the raw events topic, repairs the ones
// the aggregates topic or InfluxDB has wrong or missing (only windows the
// engine has provably finished: see engine/reconcile/safety.go), and prints
// the result as JSON. Exit 1 with --fail-on-diff when any window differed.
func cmdReconcile(ctx context.Context, args []string) error {
	return runReconcile(ctx, args, os.Stdout)
}

// runReconcile is cmdReconcile printing the result to out.
func runReconcile(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("reconcile")
	var (
		prefix      = fs.String("topic-prefix", "", "prefix of every topic name")
		fromFlag    = fs.String("from", "", "first window start reconciled: RFC 3339 or unix milliseconds (required)")
		toFlag      = fs.String("to", "", "end of the window starts reconciled, exclusive: RFC 3339 or unix milliseconds (required)")
		windows     = fs.String("windows", "1m", "window sizes, comma-separated durations (whole seconds; the engine's)")
		dryRun      = fs.Bool("dry-run", false, "compare and report only; write nothing")
		aggOnly     = fs.Bool("aggregates-only", false, "publish repairs to the aggregates topic only (the sink writes InfluxDB); default: InfluxDB is written directly too")
		engineGroup = fs.String("engine-group", aggregate.DefaultGroup, "the engine's consumer group: its committed offsets decide which windows are safe to repair")
		lateness    = fs.Duration("lateness", aggregate.DefaultLateness, "the engine's allowed lateness (must be the engine's)")
		outOfOrder  = fs.Duration("out-of-orderness", aggregate.DefaultOutOfOrderness, "the engine's bounded out-of-orderness (must be the engine's)")
		waitEngine  = fs.Duration("wait-for-engine", 30*time.Second, "how long to wait for the engine to process what reconcile read before skipping a partition's windows (0: do not wait)")
		txnID       = fs.String("transactional-id", "countlab-reconcile", "transactional id of the aggregates publish (concurrent runs sharing it fence each other)")
		failOnDiff  = fs.Bool("fail-on-diff", false, "exit 1 when any window differed")
		timeout     = fs.Duration("influx-timeout", 30*time.Second, "timeout of every InfluxDB call")
		types       = fs.String("types", "", "accepted event types, comma-separated, as the aggregator's validator (empty: the default set)")
		verbose     = fs.Bool("v", false, "log progress on stderr")
		enrichNames = fs.String("enrich", "", "repair the attribute roll-ups of these attributes too, comma-separated (the engine's --enrich): each recounted event joined at its time with <prefix>metadata, compared with <prefix>attr-aggregates and attr_total")
		hot         = hotKeyFlag{}
	)
	fs.Var(hot, "hot-key", "a hot counted key split over N partitions, KEY=N (repeatable; the engine's --hot-key)")
	var kf kafkaFlags
	var inf influxFlags
	kf.register(fs)
	inf.register(fs)
	retention := retentionFlag(fs) // retention.go
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rc, err := retention()
	if err != nil {
		return err
	}
	conn, err := kf.connect(ctx) // kafkaconnect.go: a refused login is exit 2
	if err != nil {
		return err
	}
	from, err := reconcileTime("from", *fromFlag)
	if err != nil {
		return err
	}
	to, err := reconcileTime("to", *toFlag)
	if err != nil {
		return err
	}
	if !from.Before(to) {
		return usagef("--from must be before --to")
	}
	sizes, err := parseWindows("windows", *windows)
	if err != nil {
		return err
	}
	ic, err := inf.connect(ctx) // kafkaconnect.go: refused credentials are exit 2
	if err != nil {
		return err
	}
	vopts := []event.ValidatorOpt{event.WindowSizes(sizes...)}
	if *types != "" {
		vopts = append(vopts, event.Types(strings.Split(*types, ",")...))
	}
	validator, err := event.NewValidator(vopts...)
	if err != nil {
		return usagef("--types: %v", err)
	}
	if *lateness < 0 || *outOfOrder < 0 || *waitEngine < 0 {
		return usagef("--lateness, --out-of-orderness and --wait-for-engine must be >= 0")
	}
	if *engineGroup == "" || *txnID == "" {
		return usagef("--engine-group and --transactional-id must not be empty")
	}
	var enr *reconcile.Enrich
	if *enrichNames != "" {
		names, err := enrich.ParseAttrNames(*enrichNames)
		if err != nil {
			return usagef("--enrich: %v", err)
		}
		enr = &reconcile.Enrich{MetadataTopic: *prefix + enrich.DefaultTopic, TotalsTopic: *prefix + enrich.DefaultTotalsTopic, Attrs: names}
	}
	wait := *waitEngine
	if wait == 0 {
		wait = -1 // Config: negative is no wait
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	res, err := reconcile.Run(ctx, reconcile.Config{
		Kafka: conn, Topics: kafka.DefaultTopics(*prefix), Influx: ic,
		From: from, To: to, Windows: sizes, DryRun: *dryRun, Timeout: *timeout, Logger: log,
		Validator: validator, AggregatesOnly: *aggOnly, EngineGroup: *engineGroup,
		Lateness: *lateness, NoLateness: *lateness == 0, OutOfOrderness: *outOfOrder, NoOutOfOrderness: *outOfOrder == 0,
		WaitForEngine: wait, TransactionalID: *txnID, HotKeys: hot, Rollup: rc, Enrich: enr,
	})
	if err != nil {
		return err
	}
	if err := printJSON(out, res); err != nil {
		return err
	}
	if *failOnDiff && res.WindowsDiffering > 0 {
		return exitError{1, fmt.Errorf("%d of %d windows differed", res.WindowsDiffering, res.WindowsChecked)}
	}
	if a := res.Attributes; *failOnDiff && a != nil && a.WindowsDiffering > 0 {
		return exitError{1, fmt.Errorf("%d of %d attribute totals differed", a.WindowsDiffering, a.WindowsChecked)}
	}
	return nil
}

// reconcileTime parses an RFC 3339 time or unix milliseconds.
func reconcileTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, usagef("--%s is required", name)
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	ms, ok := event.ParseRFC3339(s) // the ingest's grammar: T and Z in either case
	if !ok {
		return time.Time{}, usagef("--%s: want RFC 3339 or unix milliseconds, got %q", name, s)
	}
	return time.UnixMilli(ms).UTC(), nil
}
