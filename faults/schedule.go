package faults

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Record is what happened to one fault of a schedule, for the report.
type Record struct {
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	InjectedAt time.Time `json:"injected_at"`
	HealedAt   time.Time `json:"healed_at"`
	// HealS is how long the heal itself took (a restart), in seconds:
	// HealedAt is when it was done.
	HealS float64 `json:"heal_s"`
	// RecoveryS is the time from the heal until the Recovered probe held,
	// in seconds; -1 when it did not hold before the schedule stopped.
	RecoveryS float64 `json:"recovery_s"`
	// Hits is how many requests a broker-errors fault answered with its
	// error (0 for other kinds).
	Hits int `json:"hits,omitempty"`
	// Error is why injecting or healing failed ("" when both worked).
	Error string `json:"error,omitempty"`
}

// Schedule runs the faults of a scenario against a target: each fault is
// injected at its Start (from Run's call), healed at Start+Duration, and
// after the heal Recovered is polled until it holds.
type Schedule struct {
	// Specs are the faults (validated: see Spec.Validate).
	Specs []Spec
	// Target is what the faults act on.
	Target Target
	// Recovered reports whether the pipeline is healthy again (e.g. the
	// consumer lag back under a bound); nil: recovered at the heal.
	Recovered func(ctx context.Context) bool
	// Poll is how often Recovered is polled (default 200ms).
	Poll time.Duration
	// Logger logs each injection and heal (default: discard).
	Logger *slog.Logger
	// SteadyState, when set, is called at the first fault's start, before
	// any injection: an error (the target is not healthy) means no fault
	// is injected, each recorded with "not injected: " and the error.
	SteadyState func(ctx context.Context) error
}

// Run runs the schedule until every fault is healed and recovered (or ctx
// ends: faults still injected are healed then, with a fresh deadline) and
// returns one Record per spec, in the order of Specs. A fault that fails
// to inject is recorded with its error and not healed.
func (s *Schedule) Run(ctx context.Context) []Record {
	poll := s.Poll
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t0 := time.Now()
	recs := make([]Record, len(s.Specs))
	if err := s.checkSteadyState(ctx, t0); err != nil {
		for i, sp := range s.Specs {
			recs[i] = Record{Name: recordName(sp, i), Kind: sp.Kind, RecoveryS: -1, Error: "not injected: " + err.Error()}
		}
		log.Warn("no fault injected", "err", err)
		return recs
	}
	var wg sync.WaitGroup
	for i, sp := range s.Specs {
		recs[i] = Record{Name: recordName(sp, i), Kind: sp.Kind, RecoveryS: -1}
		f, err := New(sp)
		if err != nil {
			recs[i].Error = err.Error()
			continue
		}
		wg.Add(1)
		go func(r *Record, sp Spec, f Fault) {
			defer wg.Done()
			s.runOne(ctx, t0, r, sp, f, poll, log)
		}(&recs[i], sp, f)
	}
	wg.Wait()
	return recs
}

// recordName is the spec's name, or kind-i.
func recordName(sp Spec, i int) string {
	if sp.Name == "" {
		return fmt.Sprintf("%s-%d", sp.Kind, i)
	}
	return sp.Name
}

// checkSteadyState waits for the first fault's start and calls SteadyState.
func (s *Schedule) checkSteadyState(ctx context.Context, t0 time.Time) error {
	if s.SteadyState == nil || len(s.Specs) == 0 {
		return nil
	}
	first := s.Specs[0].Start
	for _, sp := range s.Specs[1:] {
		first = min(first, sp.Start)
	}
	if !sleepUntil(ctx, t0.Add(first)) {
		return nil // the run ended first: runOne records it
	}
	if err := s.SteadyState(ctx); err != nil {
		return fmt.Errorf("steady state: %w", err)
	}
	return nil
}

func (s *Schedule) runOne(ctx context.Context, t0 time.Time, r *Record, sp Spec, f Fault, poll time.Duration, log *slog.Logger) {
	if !sleepUntil(ctx, t0.Add(sp.Start)) {
		r.Error = "not injected: the run ended first"
		return
	}
	r.InjectedAt = time.Now().UTC()
	if err := f.Inject(ctx, s.Target); err != nil {
		r.Error = "inject: " + err.Error()
		log.Warn("fault not injected", "fault", r.Name, "kind", r.Kind, "err", err)
		return
	}
	log.Info("fault injected", "fault", r.Name, "kind", r.Kind, "for", sp.Duration)
	sleepUntil(ctx, t0.Add(sp.Start+sp.Duration))
	// Heal even when ctx ended: a fault must not outlive its schedule.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	healStart := time.Now()
	err := f.Heal(hctx, s.Target)
	cancel()
	r.HealedAt = time.Now().UTC()
	r.HealS = r.HealedAt.Sub(healStart).Seconds()
	if h, ok := f.(interface{ Hits() int }); ok {
		r.Hits = h.Hits()
	}
	if err != nil {
		r.Error = "heal: " + err.Error()
		log.Warn("fault not healed", "fault", r.Name, "kind", r.Kind, "err", err)
		return
	}
	log.Info("fault healed", "fault", r.Name, "kind", r.Kind)
	if s.Recovered == nil {
		r.RecoveryS = 0
		return
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if s.Recovered(ctx) {
			r.RecoveryS = time.Since(r.HealedAt).Seconds()
			log.Info("recovered after fault", "fault", r.Name, "recovery_s", r.RecoveryS)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sleepUntil waits until at, or until ctx ends (false).
func sleepUntil(ctx context.Context, at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
