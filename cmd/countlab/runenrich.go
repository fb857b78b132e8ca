package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/oracle"
)

// enrichRun is a run's metadata traffic and its truth (scenario section
// enrichment): the plan (sim.PlanMetadata) sent through the gateway's
// POST /v1/metadata, and every acknowledged version in the truth.
type enrichRun struct {
	meta  oracle.Metadata
	plan  []sim.MetadataUpdate
	attrs []string
	done  chan error
}

// startEnrichment plans the metadata of the run's keys and starts sending
// it (nil without an enrichment section).
func (r *scenarioRun) startEnrichment(ctx context.Context, st *stack, start time.Time, token, keyPrefix string) (*enrichRun, error) {
	e := r.sc.Enrichment
	if e == nil {
		return nil, nil
	}
	keys := make([]string, r.sc.Traffic.Keys.Count)
	for i := range keys {
		keys[i] = keyPrefix + strconv.Itoa(i)
	}
	plan, err := sim.PlanMetadata(sim.EntitiesConfig{Keys: keys, Channels: e.Channels, ZipfS: e.ZipfS, LateShare: e.LateShare,
		LateBackdate: e.LateBackdate, Moves: e.Moves, Renames: e.Renames, Duration: r.sc.Duration, Seed: r.sc.Seed})
	if err != nil {
		return nil, usageError{err}
	}
	er := &enrichRun{plan: plan, attrs: e.Attributes, done: make(chan error, 1)}
	ms := &sim.MetadataSender{URL: "http://" + st.gwAddr, Token: token,
		Acked: func(u sim.MetadataUpdate, eff int64) { er.meta.AddVersion(u.Entity, eff, u.Attrs) }}
	go func() { er.done <- ms.Run(ctx, start, plan) }()
	fmt.Fprintf(r.out, "  enrichment: %d metadata records planned over %d videos, %d channels (%s rolled up)\n",
		len(plan), len(keys), e.Channels, joinNames(e.Attributes))
	return er, nil
}

// check waits for the metadata sender, then checks every attribute window
// that closed during the traffic (its end + lateness + out-of-orderness,
// plus a second, before the traffic's end: later ones close only when
// newer events move the watermark) in the query service and InfluxDB,
// and adds the result to acc.
func (er *enrichRun) check(ctx context.Context, r *scenarioRun, qc *client.Client, store *reports.InfluxStore, trafficEnd time.Time, acc *reports.Accuracy) error {
	if er == nil {
		return nil
	}
	if err := <-er.done; err != nil {
		return fmt.Errorf("metadata traffic: %w", err)
	}
	cut := trafficEnd.Add(-r.sf.lateness - r.sf.outOfOrder - time.Second).UnixMilli()
	for _, a := range er.attrs {
		var want []oracle.AttrWindow
		for _, w := range oracle.AttrWindows(r.truth, &er.meta, a) {
			if w.Start+w.Size <= cut {
				want = append(want, w)
			}
		}
		c, err := reports.CheckAttrs(ctx, want, qc, store, r.drainTimeout())
		if err != nil {
			return fmt.Errorf("attribute check: %w", err)
		}
		acc.Attributes = append(acc.Attributes, c)
		if !c.Exact {
			acc.Exact = false
		}
	}
	return nil
}
