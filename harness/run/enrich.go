package run

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/countlab/countlab/harness"
	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/oracle"
)

// The enrichment scenario section (engine/enrich) in a run: the stack
// rolls up by the attributes, the run sends the videos' metadata through
// the gateway's POST /v1/metadata (sim.PlanMetadata), keeps every
// acknowledged version in the truth (oracle.Metadata) and checks every
// closed attribute window in the query service and the store.

// enrichStack are the stack options of sc's enrichment section.
func enrichStack(sc *scenarios.Scenario) []stack.Opt {
	if sc.Enrichment == nil {
		return nil
	}
	return []stack.Opt{stack.Enrich(sc.Enrichment.Attributes...)}
}

// enrichRun is a run's metadata traffic and its truth.
type enrichRun struct {
	meta  oracle.Metadata
	attrs []string
	done  chan error
}

// startEnrichment plans the metadata of the run's keys and starts sending
// it (nil without an enrichment section).
func (r *scenarioRun) startEnrichment(ctx context.Context, start time.Time, keyPrefix string) (*enrichRun, error) {
	e := r.sc.Enrichment
	if e == nil {
		return nil, nil
	}
	if r.target.MetadataURL == "" {
		return nil, harness.ConfigError{Err: errors.New("the scenario's enrichment section needs a target with a metadata endpoint (the embedded stack)")}
	}
	keys := make([]string, r.sc.Traffic.Keys.Count)
	for i := range keys {
		keys[i] = keyPrefix + strconv.Itoa(i)
	}
	plan, err := sim.PlanMetadata(sim.EntitiesConfig{Keys: keys, Channels: e.Channels, ZipfS: e.ZipfS, LateShare: e.LateShare,
		LateBackdate: e.LateBackdate, Moves: e.Moves, Renames: e.Renames, Deletes: e.Deletes, Duration: r.sc.Duration, Seed: r.sc.Seed})
	if err != nil {
		return nil, harness.ConfigError{Err: err}
	}
	er := &enrichRun{attrs: e.Attributes, done: make(chan error, 1)}
	ms := &sim.MetadataSender{URL: r.target.MetadataURL, Token: r.cfg.token,
		Acked: func(u sim.MetadataUpdate, eff int64) { er.meta.AddVersion(u.Entity, eff, u.Attrs) }}
	go func() { er.done <- ms.Run(ctx, start, plan) }()
	fmt.Fprintf(r.out, "  enrichment: %d metadata records planned over %d videos, %d channels (%s rolled up)\n",
		len(plan), len(keys), e.Channels, strings.Join(e.Attributes, ", "))
	return er, nil
}

// check waits for the metadata sender, then checks every attribute window
// that closed during the traffic (its end + lateness + out-of-orderness,
// plus a second, before the traffic's end: later ones close only when
// newer events move the watermark), and adds the result to acc. After a
// reconcile (reconciled) the truth has the late events too: the reconcile
// rewrote the attribute totals from every distinct event.
func (er *enrichRun) check(ctx context.Context, r *scenarioRun, trafficEnd time.Time, reconciled bool, acc *reports.Accuracy) error {
	if er == nil {
		return nil
	}
	if err := <-er.done; err != nil {
		return fmt.Errorf("metadata traffic: %w", err)
	}
	q, ok := r.target.Query.(reports.AttrQuerier)
	st, ok2 := r.target.Store.(*reports.InfluxStore)
	if !ok || !ok2 {
		return errors.New("attribute check: the target's query side or store cannot be read by attribute")
	}
	cut := trafficEnd.Add(-r.target.Lateness - r.target.OutOfOrderness - time.Second).UnixMilli()
	for _, a := range er.attrs {
		all, err := oracle.AttrWindows(r.truth, &er.meta, a, reconciled)
		if err != nil {
			return fmt.Errorf("attribute check: %w", err)
		}
		var want []oracle.AttrWindow
		for _, w := range all {
			if w.Start+w.Size <= cut {
				want = append(want, w)
			}
		}
		c, err := reports.CheckAttrs(ctx, want, q, st, r.drainTimeout())
		if err != nil {
			return fmt.Errorf("attribute check: %w", err)
		}
		if c.SplitKeyWindows, err = oracle.AttrSplits(r.truth, &er.meta, a, cut); err != nil {
			return fmt.Errorf("attribute check: %w", err)
		}
		acc.Attributes = append(acc.Attributes, c)
		if !c.Exact {
			acc.Exact = false
		}
	}
	return nil
}
