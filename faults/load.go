package faults

import (
	"context"
	"fmt"
	"math"
	"sync"
)

// Load is what overload needs from a Target: the run's traffic sender,
// whose offered rate it multiplies, and the count of the sends the ingest
// gateway refused for overload (429). A Target without it makes overload
// fail with ErrUnsupported.
type Load interface {
	// SetLoadFactor multiplies the sender's offered rate by factor (> 0)
	// from now on; 1 restores the scenario's rate. The last call wins:
	// overload faults of a scenario must not overlap (Overlaps).
	SetLoadFactor(factor float64) error
	// Throttled is the number of event sends refused for overload so far
	// (per event: a 429 on a batch of n counts n).
	Throttled() int64
}

// maxLoadFactor bounds overload's factor.
const maxLoadFactor = 100

// overload multiplies the offered rate for its duration; Hits is the
// sends refused for overload meanwhile.
type overload struct {
	factor float64

	mu       sync.Mutex
	before   int64 // Throttled at the injection
	hits     int64
	injected bool
}

func buildOverload(p *params) (Fault, error) {
	f, err := p.float("factor", 3)
	if err != nil {
		return nil, err
	}
	if !(f > 0) || f > maxLoadFactor || math.IsInf(f, 0) {
		return nil, fmt.Errorf("param factor: must be in (0, %d] (got %v)", maxLoadFactor, f)
	}
	return &overload{factor: f}, nil
}

func loadOf(t Target) (Load, error) {
	l, ok := t.(Load)
	if !ok {
		return nil, fmt.Errorf("overload needs the run's traffic sender: %w", ErrUnsupported)
	}
	return l, nil
}

func (f *overload) Inject(_ context.Context, t Target) error {
	l, err := loadOf(t)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.before = l.Throttled()
	f.injected = true
	f.mu.Unlock()
	return l.SetLoadFactor(f.factor)
}

func (f *overload) Heal(_ context.Context, t Target) error {
	l, err := loadOf(t)
	if err != nil {
		return err
	}
	err = l.SetLoadFactor(1)
	f.mu.Lock()
	if f.injected {
		f.hits = l.Throttled() - f.before
		f.injected = false
	}
	f.mu.Unlock()
	return err
}

// Hits is the event sends refused for overload (429) between the
// injection and the heal.
func (f *overload) Hits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int(f.hits)
}

// LoadFactor is the factor an overload spec multiplies the offered rate
// by, 1 for other kinds or an invalid spec (for the offered load of a
// report).
func LoadFactor(s Spec) float64 {
	if s.Kind != "overload" {
		return 1
	}
	f, err := New(s)
	if err != nil {
		return 1
	}
	if o, ok := f.(*overload); ok {
		return o.factor
	}
	return 1
}
