package faults

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Random is a scenario's random_faults section: a schedule of faults drawn
// from Seed, the same for the same seed and scenario, so that a run that
// failed can be run again fault for fault (countlab run --fault-seed N).
// Faults that act on the same target (see Class) never overlap; faults
// on different targets may.
type Random struct {
	// Seed draws the schedule (kinds, starts, durations, workers).
	Seed uint64 `yaml:"seed" json:"seed"`
	// Count is the number of faults (default 5, at most 100).
	Count int `yaml:"count" json:"count"`
	// Kinds are the kinds drawn from, evenly (default DefaultRandomKinds;
	// any of Kinds()).
	Kinds []string `yaml:"kinds,omitempty" json:"kinds,omitempty"`
	// MinDuration and MaxDuration bound each fault's duration (default
	// 2s and 6s).
	MinDuration time.Duration `yaml:"min_duration" json:"min_duration"`
	MaxDuration time.Duration `yaml:"max_duration" json:"max_duration"`
	// MinGap is the least time from a fault's heal to the next injection
	// on the same target (default 2s), so that it recovers in between.
	MinGap time.Duration `yaml:"min_gap" json:"min_gap"`
	// From is the earliest injection, from the start of the traffic
	// (default 5s: the engine has a watermark and the traffic flows).
	From time.Duration `yaml:"from" json:"from"`
	// Tail is how long before the end of the traffic every fault is
	// healed (default 5s).
	Tail time.Duration `yaml:"tail" json:"tail"`
	// Params are per-kind parameters, over the defaults of RandomParams
	// (e.g. {overload: {factor: 2}}).
	Params map[string]map[string]any `yaml:"params,omitempty" json:"params,omitempty"`
}

// DefaultRandomKinds are the kinds random_faults draws from when it names
// none: every kind the embedded stack supports (worker kinds need the
// engine workers as processes; a run with them starts them so).
var DefaultRandomKinds = []string{"worker-crash", "worker-pause", "broker-errors", "sink-outage", "overload", "clock-skew", "late-burst"}

// Defaults of Random.
const (
	DefaultRandomCount = 5
	maxRandomCount     = 100
	defaultMinDuration = 2 * time.Second
	defaultMaxDuration = 6 * time.Second
	defaultMinGap      = 2 * time.Second
	defaultFrom        = 5 * time.Second
	defaultTail        = 5 * time.Second
	// placeTries bounds the draws of a fault's start before Expand gives up.
	placeTries = 200
)

// RandomParams are the params a random fault of a kind gets unless
// Random.Params says otherwise: milder than the kind's own defaults where
// those would stop the pipeline outright (broker-errors fails 30% of
// produce requests, not all). Worker kinds also get a random worker.
var RandomParams = map[string]map[string]any{
	"broker-errors": {"requests": []any{"produce"}, "probability": 0.3},
}

// Class is the target a kind acts on: faults of one class must not
// overlap (two kills of one process, two rate factors), faults of
// different classes may. Workers, the broker, the sink and the network
// are one class each; any other kind is a class of its own.
func Class(kind string) string {
	switch {
	case strings.HasPrefix(kind, "worker-"):
		return "worker"
	case strings.HasPrefix(kind, "broker-"):
		return "broker"
	case strings.HasPrefix(kind, "sink-"):
		return "sink"
	case strings.HasPrefix(kind, "network-"):
		return "network"
	}
	return kind
}

func (r Random) withDefaults() Random {
	if r.Count == 0 {
		r.Count = DefaultRandomCount
	}
	if len(r.Kinds) == 0 {
		r.Kinds = DefaultRandomKinds
	}
	if r.MinDuration == 0 {
		r.MinDuration = defaultMinDuration
	}
	if r.MaxDuration == 0 {
		r.MaxDuration = max(defaultMaxDuration, r.MinDuration)
	}
	if r.MinGap == 0 {
		r.MinGap = defaultMinGap
	}
	if r.From == 0 {
		r.From = defaultFrom
	}
	if r.Tail == 0 {
		r.Tail = defaultTail
	}
	return r
}

// Validate checks r's fields (defaults applied) for traffic of the given
// duration; it does not place the faults (Expand does).
func (r Random) Validate(duration time.Duration) error {
	r = r.withDefaults()
	var errs []error
	if r.Count < 1 || r.Count > maxRandomCount {
		errs = append(errs, fmt.Errorf("count: must be in [1, %d] (got %d)", maxRandomCount, r.Count))
	}
	known := Kinds()
	for _, k := range r.Kinds {
		if !slices.Contains(known, k) {
			errs = append(errs, fmt.Errorf("kinds: unknown fault kind %q (kinds: %s)", k, strings.Join(known, ", ")))
		}
	}
	for k := range r.Params {
		if !slices.Contains(r.Kinds, k) {
			errs = append(errs, fmt.Errorf("params.%s: not one of the kinds drawn (%s)", k, strings.Join(r.Kinds, ", ")))
		}
	}
	if r.MinDuration < 100*time.Millisecond || r.MaxDuration < r.MinDuration {
		errs = append(errs, fmt.Errorf("min_duration, max_duration: need 100ms <= min_duration <= max_duration (got %s, %s)", r.MinDuration, r.MaxDuration))
	}
	if r.MinGap < 0 || r.From < 0 || r.Tail < 0 {
		errs = append(errs, fmt.Errorf("min_gap, from, tail: must be >= 0 (got %s, %s, %s)", r.MinGap, r.From, r.Tail))
	}
	if room := duration - r.From - r.Tail; room < r.MaxDuration {
		errs = append(errs, fmt.Errorf("from, tail: the window for faults, duration %s - from %s - tail %s, is shorter than max_duration %s", duration, r.From, r.Tail, r.MaxDuration))
	}
	return errors.Join(errs...)
}

// Expand draws the schedule: Count faults, each of a kind drawn from
// Kinds (the next kind in Kinds when the drawn one's target has no room
// left), a duration in [MinDuration, MaxDuration] (whole 100ms) and a
// start in [From, duration-Tail-its duration] at least MinGap away from
// the faults of its class (Class); worker kinds act on a worker drawn
// from [0, workers). The result is sorted by start and named
// "r<i>-<kind>"; the same r, duration, workers and fixed give the same
// specs. fixed are faults scheduled besides (a scenario's own list): the
// drawn ones keep MinGap from those of their class too.
func (r Random) Expand(duration time.Duration, workers int, fixed []Spec) ([]Spec, error) {
	if err := r.Validate(duration); err != nil {
		return nil, err
	}
	r = r.withDefaults()
	rng := rand.New(rand.NewPCG(r.Seed, r.Seed^0x7a3d))
	step := 100 * time.Millisecond
	type span struct{ from, to time.Duration }
	taken := map[string][]span{}
	for _, f := range fixed {
		taken[Class(f.Kind)] = append(taken[Class(f.Kind)], span{f.Start, f.Start + f.Duration})
	}
	out := make([]Spec, 0, r.Count)
	for i := 0; i < r.Count; i++ {
		first := rng.IntN(len(r.Kinds))
		steps := int64((r.MaxDuration - r.MinDuration) / step)
		d := r.MinDuration + time.Duration(rng.Int64N(steps+1))*step
		last := duration - r.Tail - d
		// The drawn kind, or, when its target has no room left, the next
		// kinds in turn.
		var kind, cls string
		var start time.Duration
		placed := false
		for k := 0; k < len(r.Kinds) && !placed; k++ {
			kind = r.Kinds[(first+k)%len(r.Kinds)]
			cls = Class(kind)
			for try := 0; try < placeTries && !placed; try++ {
				start = r.From + time.Duration(rng.Int64N(int64((last-r.From)/step)+1))*step
				placed = true
				for _, s := range taken[cls] {
					if start < s.to+r.MinGap && s.from < start+d+r.MinGap {
						placed = false
						break
					}
				}
			}
		}
		if !placed {
			return nil, fmt.Errorf("cannot place fault %d of %d (%s long): no room left on the target of any kind; lower count or max_duration, or add kinds of other targets",
				i+1, r.Count, d)
		}
		taken[cls] = append(taken[cls], span{start, start + d})
		p := map[string]any{}
		maps.Copy(p, RandomParams[kind])
		if cls == "worker" && kind != "worker-add" && workers > 0 {
			p["worker"] = rng.IntN(workers)
		}
		maps.Copy(p, r.Params[kind])
		if len(p) == 0 {
			p = nil
		}
		sp := Spec{Name: fmt.Sprintf("r%d-%s", i, kind), Kind: kind, Start: start, Duration: d, Params: p}
		if _, err := New(sp); err != nil {
			return nil, fmt.Errorf("params.%s: %w", kind, err)
		}
		out = append(out, sp)
	}
	slices.SortStableFunc(out, func(a, b Spec) int { return int(a.Start - b.Start) })
	return out, nil
}

// setKinds are the kinds whose faults set one value of the target (a rate
// factor, a clock offset, a share of late events): two of one kind must
// not overlap, or the first heal ends both.
var setKinds = []string{"overload", "clock-skew", "late-burst"}

// Overlaps is an error naming two faults of specs that must not overlap
// in time: two of a kind that sets one value of the target (overload,
// clock-skew, late-burst), two sink-outages or broker-crashes, or two
// faults on the same engine worker; nil when none do.
func Overlaps(specs []Spec) error {
	key := func(s Spec) string {
		switch {
		case slices.Contains(setKinds, s.Kind), s.Kind == "sink-outage", s.Kind == "broker-crash":
			return s.Kind
		case Class(s.Kind) == "worker" && s.Kind != "worker-add":
			return fmt.Sprintf("worker %v", workerParam(s))
		}
		return ""
	}
	for i, a := range specs {
		ka := key(a)
		if ka == "" {
			continue
		}
		for _, b := range specs[i+1:] {
			if key(b) == ka && a.Start < b.Start+b.Duration && b.Start < a.Start+a.Duration {
				return fmt.Errorf("faults %s and %s overlap in time on the same target (%s): move one", specName(a), specName(b), ka)
			}
		}
	}
	return nil
}

func workerParam(s Spec) any {
	if w, ok := s.Params["worker"]; ok {
		return w
	}
	return 0
}

func specName(s Spec) string {
	if s.Name != "" {
		return s.Name
	}
	return s.Kind + " at " + s.Start.String()
}
