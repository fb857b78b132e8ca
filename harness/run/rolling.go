package run

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/oracle"
)

// The rolling check's wiring (scenario rolling_check; reports.Roller):
// while the traffic runs, windows are checked against the target's read
// side (its Query and Store) as they become final and their truth is
// dropped, and acknowledged identities are forgotten once the generator's
// duplicate horizon (plus a margin for the sender's re-sends) has passed
// them. The check after the run gets the result (CheckConfig.Rolling).

// identityGeneration is the span of send time of one generation of
// identities in a rolled truth (oracle.Config.IdentityGeneration).
const identityGeneration = 10 * time.Second

// RollingOn says the scenario asks for the rolling check.
func RollingOn(sc *scenarios.Scenario) bool { return sc.RollingCheck != nil && sc.RollingCheck.Enabled }

// newRunTruth is NewTruth, with identities kept in generations when the
// rolling check forgets them, and room made for the events the scenario
// offers.
func newRunTruth(sc *scenarios.Scenario, t *Target) (*oracle.Oracle, error) {
	c := truthConfig(t.Windows, t.Lateness, t.OutOfOrderness)
	if RollingOn(sc) {
		c.IdentityGeneration = identityGeneration
	}
	// The attribute truth joins each event at its time (oracle.AttrWindows).
	c.EventTimes = sc.Enrichment != nil
	// The identity table sized for the run at once (no doublings).
	c.Identities = int(sc.OfferedEvents())
	return oracle.New(c)
}

// startRolling starts the rolling check of r.truth, when the scenario asks
// for it; stop ends it and returns its result (nil without one), the
// truth of the windows not yet settled put back for the check after the
// run; status is its part of the progress line ("" without one).
func (r *scenarioRun) startRolling(ctx context.Context, gen *sim.Generator, snd *sim.Sender, start time.Time, keyPrefix string) (stop func() *reports.RollingCheck, status func() string) {
	if !RollingOn(r.sc) || r.target.Query == nil {
		return func() *reports.RollingCheck { return nil }, func() string { return "" }
	}
	rc := *r.sc.RollingCheck
	if rc.Every <= 0 { // a test's hook set it after the defaults
		rc.Every = 10 * time.Second
	}
	if rc.IdentityMargin <= 0 {
		rc.IdentityMargin = 2 * time.Minute
	}
	tg := r.target
	cfg := reports.RollingConfig{Lateness: tg.Lateness, OutOfOrderness: tg.OutOfOrderness, Settle: rc.Settle, Margin: rc.Margin,
		Store: tg.Store, KeyPrefix: keyPrefix,
		Frontier: func() time.Time { return time.Now().Add(-snd.Progress().Lag) }, // a sender behind stamps its schedule's times
	}
	if rc.AbortOnMismatch {
		cfg.OnMismatch = func(d reports.WindowDiff) {
			r.probes.AbortNow("rolling_check", "the rolling check found a window still wrong "+rc.Margin.String()+" after it was final: "+d.String())
		}
	}
	roller := reports.NewRoller(r.truth, tg.Query, cfg)
	rctx, cancel := context.WithCancel(ctx)
	var (
		wg  sync.WaitGroup
		res reports.RollingCheck
	)
	wg.Go(func() { res = roller.Run(rctx, rc.Every) })
	wg.Go(func() { forgetIdentities(rctx, r.truth, gen, snd, start, rc.IdentityMargin, rc.Every) })
	return func() *reports.RollingCheck {
		cancel()
		wg.Wait()
		printRolling(r.out, &res)
		return &res
	}, roller.Status
}

// forgetIdentities drops, every `every`, the identities that can no
// longer be repeated: first acknowledged before the wall-clock time at
// which the sender's frontier (the intended send time it had reached,
// now - its lag) was still margin short of the generator's duplicate
// horizon. An item is sent once its intended time has come, so an
// identity first acknowledged before that time belongs to an event
// intended before the horizon, which no later item copies; the margin
// covers the sender's re-sends of an unacknowledged batch. A sender on
// schedule forgets margin behind the horizon; one behind forgets by its
// own progress, not the clock's.
func forgetIdentities(ctx context.Context, truth *oracle.Oracle, gen *sim.Generator, snd *sim.Sender, start time.Time, margin, every time.Duration) {
	type sample struct {
		wall time.Time
		pos  time.Duration // the frontier, from start
	}
	var seen []sample
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			seen = append(seen, sample{now, now.Sub(start) - snd.Progress().Lag})
			cut := gen.DupHorizon() - margin
			i := 0
			for i < len(seen) && seen[i].pos < cut {
				i++
			}
			if i > 0 {
				truth.ForgetBefore(seen[i-1].wall)
				seen = slices.Delete(seen, 0, i-1)
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
