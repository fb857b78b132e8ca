package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim/oracle"
)

// cmdCheck is the accuracy check alone: a saved truth (a run's truth.bin)
// against a query service and, with --influx-url, against InfluxDB itself.
func cmdCheck(ctx context.Context, args []string) error {
	if wantsFromLog(args) {
		return cmdCheckFromLog(ctx, args) // checklog.go
	}
	fs := newFlagSet("check")
	var truthPaths listFlag
	fs.Var(&truthPaths, "truth", "the truth file of a run (DIR/"+run.TruthFile+", or DIR); repeated: the shards of one run (countlab load), merged")
	fs.Var(&truthPaths, "ledger", "alias of --truth")
	queryURL := fs.String("query", "http://127.0.0.1:8081", "the query service's base URL")
	var inf influxFlags
	inf.register(fs)
	fs.Lookup("influx-url").Usage = "also read every window back from this InfluxDB, with a query of the check's own (token from COUNTLAB_INFLUX_TOKEN[_FILE])"
	includeLate := fs.Bool("include-late", false, "expect the events sent after their window closed too (after a reconcile)")
	wait := fs.Duration("wait", 0, "re-check windows that differ for up to this long (the pipeline is still draining)")
	parallel := fs.Int("parallel", 16, "queries in flight")
	keyPrefix := fs.String("key-prefix", "", "with --influx-url: look for stored windows the truth lacks only among keys with this prefix (a shared store)")
	targetPath := fs.String("target", "", "read the windows back through this target file's read side instead of --query and --influx-url (target.go)")
	retention := retentionFlag(fs) // retention.go
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rc, err := retention()
	if err != nil {
		return err
	}
	if len(truthPaths) == 0 {
		return usagef("--truth is required (a run's DIR/%s)", run.TruthFile)
	}
	truth, err := loadTruths(truthPaths, os.Stderr) // load.go
	if err != nil {
		return err
	}
	if *targetPath != "" {
		return checkOnTarget(ctx, truth, *targetPath, reports.CheckConfig{Parallel: *parallel, IncludeLate: *includeLate, Drain: *wait, KeyPrefix: *keyPrefix})
	}
	token, _ := tokenFromEnv()
	qc, err := client.New(*queryURL, client.Token(token))
	if err != nil {
		return usagef("--query: %v", err)
	}
	cfg := reports.CheckConfig{Parallel: *parallel, IncludeLate: *includeLate, Drain: *wait, KeyPrefix: *keyPrefix, Retention: rc}
	if inf.URLGiven() {
		ic, err := inf.connect(ctx) // kafkaconnect.go: refused credentials are exit 2
		if err != nil {
			return err
		}
		store := reports.NewInfluxStore(ic.URL, ic.Org, ic.Bucket, ic.Credential())
		defer store.Close()
		readRetentionBuckets(store, ic, rc)
		cfg.Store = store
	}
	acc, done, err := checkAndPrint(ctx, truth, qc, cfg)
	if done || err != nil {
		return err
	}
	if !acc.Exact {
		return exitError{1, fmt.Errorf("not exact: %d windows differ from the truth, %d contract mismatches", acc.MismatchedWindows, acc.ContractMismatches)}
	}
	return nil
}

// checkAndPrint checks truth against q (and cfg.Store) and prints the
// result, as JSON with --json (then done: the JSON is the answer, exit 0).
func checkAndPrint(ctx context.Context, truth *oracle.Oracle, q reports.Querier, cfg reports.CheckConfig) (acc reports.Accuracy, done bool, err error) {
	start := time.Now()
	if acc, err = reports.Check(ctx, truth, q, cfg); err != nil {
		return acc, false, err
	}
	if checkAsJSON { // --json (checkout.go)
		return acc, true, writeCheckJSON(os.Stdout, acc, time.Since(start))
	}
	printCheck(acc, time.Since(start))
	return acc, false, nil
}

func printCheck(acc reports.Accuracy, took time.Duration) {
	out := os.Stdout
	verdict := "EXACT"
	if !acc.Exact {
		verdict = "NOT EXACT"
	}
	fmt.Fprintf(out, "%s: %d windows checked in %.1fs, %d mismatched; expected %d events, counted %d, lost %d, duplicated %d (late, not expected: %d)\n",
		verdict, acc.WindowsChecked, took.Seconds(), acc.MismatchedWindows, acc.ExpectedEvents, acc.CountedEvents, acc.Lost, acc.Duplicated, acc.LateEvents)
	acc.WriteSources(out, "  ")
	for _, d := range acc.WorstWindows {
		fmt.Fprintf(out, "  bad window: %s\n", d)
	}
}
