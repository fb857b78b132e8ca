package main

// --target FILE of run and check: the system under test a target file
// describes (harness/target) instead of the embedded stack.

import (
	"context"
	"fmt"

	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/harness/target"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim/oracle"
)

// targetFlagUsage is the --target flag of run.
const targetFlagUsage = "run against the system under test this target file describes (README: Test your own pipeline) instead of the embedded stack; nothing is started"

// targetOption is run.WithTarget of the target file path; closeFn closes
// what it opened (its links, clients).
func targetOption(ctx context.Context, path string) (opt run.Opt, closeFn func(), err error) {
	t, err := target.Load(path)
	if err != nil {
		return nil, nil, usageError{Err: fmt.Errorf("--target: %w", err)}
	}
	rt, err := t.ForRun(ctx)
	if err != nil {
		t.Close()
		return nil, nil, err
	}
	return run.WithTarget(rt), t.Close, nil
}

// checkOnTarget is `countlab check --truth DIR --target FILE`: the saved
// truth against the target's readers.
func checkOnTarget(ctx context.Context, truth *oracle.Oracle, path string, cfg reports.CheckConfig) error {
	t, err := target.Load(path)
	if err != nil {
		return usageError{Err: fmt.Errorf("--target: %w", err)}
	}
	defer t.Close()
	q, err := t.Querier()
	if err != nil {
		return usageError{Err: fmt.Errorf("--target: %w", err)}
	}
	if cfg.Store, err = t.Store(); err != nil {
		return usageError{Err: fmt.Errorf("--target: %w", err)}
	}
	cfg.StoreByKey = true
	acc, done, err := checkAndPrint(ctx, truth, q, cfg) // check.go
	if done || err != nil {
		return err
	}
	if !acc.Exact {
		return exitError{1, fmt.Errorf("not exact against target %s: %d windows differ from the truth", t.Spec.Name, acc.MismatchedWindows)}
	}
	return nil
}
