package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim/ledger"
)

// cmdCheck is the accuracy check alone: a saved ledger (a run's
// ledger.gob) against a query service.
func cmdCheck(ctx context.Context, args []string) error {
	fs := newFlagSet("check")
	ledgerFile := fs.String("ledger", "", "the ledger file of a run (DIR/ledger.gob)")
	queryURL := fs.String("query", "http://127.0.0.1:8081", "the query service's base URL")
	includeLate := fs.Bool("include-late", false, "expect the events sent after their window closed too (after a reconcile)")
	wait := fs.Duration("wait", 0, "re-check windows that differ for up to this long (the pipeline is still draining)")
	parallel := fs.Int("parallel", 16, "queries in flight")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ledgerFile == "" {
		return usagef("--ledger is required")
	}
	l, err := ledger.Load(*ledgerFile)
	if err != nil {
		return usagef("--ledger: %v", err)
	}
	token, _ := gatewayTokenFromEnv()
	qc, err := client.New(*queryURL, client.Token(token))
	if err != nil {
		return usagef("--query: %v", err)
	}
	start := time.Now()
	acc, err := reports.Check(ctx, l, qc, reports.CheckConfig{Parallel: *parallel, IncludeLate: *includeLate, Drain: *wait})
	if err != nil {
		return err
	}
	if checkAsJSON { // --json (checkout.go)
		return writeCheckJSON(os.Stdout, acc, time.Since(start))
	}
	out := os.Stdout
	verdict := "EXACT"
	if !acc.Exact {
		verdict = "NOT EXACT"
	}
	fmt.Fprintf(out, "%s: %d windows checked in %.1fs, %d mismatched; expected %d events, counted %d, lost %d, duplicated %d (late, not expected: %d)\n",
		verdict, acc.WindowsChecked, time.Since(start).Seconds(), acc.MismatchedWindows, acc.ExpectedEvents, acc.CountedEvents, acc.Lost, acc.Duplicated, acc.LateEvents)
	for _, d := range acc.WorstWindows {
		fmt.Fprintf(out, "  bad window: %s\n", d)
	}
	if !acc.Exact {
		return exitError{1, fmt.Errorf("%d windows differ from the ledger", acc.MismatchedWindows)}
	}
	return nil
}
