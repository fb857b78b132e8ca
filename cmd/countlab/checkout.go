package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/countlab/countlab/reports"
)

// checkJSON is `countlab check --json`'s output: the verdict, how long
// the check took and the accuracy block of report.json.
type checkJSON struct {
	Exact     bool             `json:"exact"`
	DurationS float64          `json:"duration_s"`
	Accuracy  reports.Accuracy `json:"accuracy"`
}

// checkAsJSON is check's --json: withOps takes it out of the arguments
// (check.go does not define the flag) and cmdCheck asks it.
var checkAsJSON bool

// withOps wraps command name's run with what this file adds to it: for
// check and report diff, --json.
func withOps(name string, c command) command {
	if name != "check" && name != "report" {
		return c
	}
	inner := c.run
	c.run = func(ctx context.Context, args []string) error {
		if name == "report" && (len(args) == 0 || args[0] != "diff") {
			return inner(ctx, args)
		}
		args, asJSON, err := takeHiddenBool(args, "json")
		if err != nil {
			return err
		}
		checkAsJSON, reportDiffJSON = asJSON, asJSON
		defer func() { checkAsJSON, reportDiffJSON = false, false }()
		return inner(ctx, args)
	}
	return c
}

// writeCheckJSON writes acc as checkJSON to w; not exact is exit 1.
func writeCheckJSON(w io.Writer, acc reports.Accuracy, took time.Duration) error {
	if err := printJSON(w, checkJSON{Exact: acc.Exact, DurationS: took.Seconds(), Accuracy: acc}); err != nil {
		return err
	}
	if !acc.Exact {
		return exitError{1, fmt.Errorf("not exact: %d windows differ from the truth, %d contract mismatches", acc.MismatchedWindows, acc.ContractMismatches)}
	}
	return nil
}

// probeQuery checks that the query service at base answers GET /healthz
// (any HTTP answer will do): an unreachable target is a configuration
// problem (exit 2), not a failed check.
func probeQuery(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/healthz", nil)
	if err != nil {
		return usagef("--query %s: %v", base, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return usagef("--query %s is not reachable (%v): start the query service (countlab up, countlab query-server) or point --query at it", base, err)
	}
	resp.Body.Close()
	return nil
}
