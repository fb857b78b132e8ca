package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/oracle"
)

// The rolling check's wiring (scenario rolling_check; reports.Roller):
// while the traffic runs, windows are checked as they become final and
// their truth is dropped, and acknowledged identities are forgotten once
// the generator's duplicate horizon (plus a margin for the sender's
// re-sends) has passed them.

// identityGeneration is the span of send time of one generation of
// identities in a rolled truth (oracle.Config.IdentityGeneration).
const identityGeneration = 10 * time.Second

// rollingOn says the scenario asks for the rolling check.
func rollingOn(sc *scenarios.Scenario) bool { return sc.RollingCheck != nil && sc.RollingCheck.Enabled }

// newRunTruth is newTruth, with identities kept in generations when the
// rolling check forgets them.
func newRunTruth(sc *scenarios.Scenario, windows []time.Duration, sf *stackFlags) (*oracle.Oracle, error) {
	if !rollingOn(sc) {
		return newTruth(windows, sf)
	}
	c := truthConfig(windows, sf)
	c.IdentityGeneration = identityGeneration
	return oracle.New(c)
}

// startRolling starts the rolling check of r.truth through qc and the
// stack's InfluxDB, when the scenario asks for it; stop ends it and
// returns its result (nil without one), the truth of the windows not yet
// settled put back for the check after the run.
func (r *scenarioRun) startRolling(ctx context.Context, st *stack, qc *client.Client, gen *sim.Generator, snd *sim.Sender, start time.Time, keyPrefix string) (stop func() *reports.RollingCheck) {
	if !rollingOn(r.sc) {
		return func() *reports.RollingCheck { return nil }
	}
	rc := *r.sc.RollingCheck
	if rc.Every <= 0 { // a test's hook set it after the defaults
		rc.Every = 10 * time.Second
	}
	if rc.IdentityMargin <= 0 {
		rc.IdentityMargin = 2 * time.Minute
	}
	store := reports.NewInfluxStore(st.influx.URL, st.influx.Org, st.influx.Bucket, st.influx.Token)
	cfg := reports.RollingConfig{Lateness: r.sf.lateness, OutOfOrderness: r.sf.outOfOrder, Settle: rc.Settle, Margin: rc.Margin,
		Store: store, KeyPrefix: keyPrefix,
		Frontier: func() time.Time { return time.Now().Add(-snd.Progress().Lag) }, // a sender behind stamps its schedule's times
	}
	if rc.AbortOnMismatch {
		cfg.OnMismatch = func(d reports.WindowDiff) {
			r.mon.abortNow("rolling_check", "the rolling check found a window still wrong "+rc.Margin.String()+" after it was final: "+d.String())
		}
	}
	roller := reports.NewRoller(r.truth, qc, cfg)
	rctx, cancel := context.WithCancel(ctx)
	var (
		wg  sync.WaitGroup
		res reports.RollingCheck
	)
	wg.Add(2)
	go func() { defer wg.Done(); res = roller.Run(rctx, rc.Every) }()
	go func() { defer wg.Done(); forgetIdentities(rctx, r.truth, gen, start, rc.IdentityMargin, rc.Every) }()
	return func() *reports.RollingCheck {
		cancel()
		wg.Wait()
		store.Close()
		printRolling(r.out, &res)
		return &res
	}
}

// forgetIdentities drops, every `every`, the identities first sent more
// than margin before the generator's duplicate horizon.
func forgetIdentities(ctx context.Context, truth *oracle.Oracle, gen *sim.Generator, start time.Time, margin, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if h := gen.DupHorizon(); h > margin {
				truth.ForgetBefore(start.Add(h - margin))
			}
		}
	}
}

func printRolling(w io.Writer, rc *reports.RollingCheck) {
	fmt.Fprintf(w, "  rolling check: %d windows checked during the run (%d looks), %d mismatched mid-run, %d unexpected, %d handed to the end; %d identities forgotten\n",
		rc.WindowsChecked, rc.Steps, rc.MismatchedWindows, rc.UnexpectedWindows, rc.HandedToEnd, rc.Forgotten)
	if rc.Errors > 0 {
		fmt.Fprintf(w, "  rolling check: %d looks failed (retried), first: %s\n", rc.Errors, rc.FirstError)
	}
}

// retentionFlags are `countlab broker`'s --retention-* flags (a scenario's
// retention: section, kafka.Retention).
func retentionFlags(fs *flag.FlagSet) *kafka.Retention {
	r := new(kafka.Retention)
	fs.DurationVar(&r.Events, "retention-events", 0, "drop events-topic records older than this (0: keep everything; at least 1m, longer than the engine may lag)")
	fs.DurationVar(&r.Side, "retention-side", 0, "the same for the late and dead-letter topics (0: keep everything)")
	fs.DurationVar(&r.Changelog, "retention-changelog", 0, "the same for the engine's dedup changelog, set when it appears (0: keep everything; at least twice the dedup horizon)")
	return r
}
