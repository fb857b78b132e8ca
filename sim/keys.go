package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// Keys picks the counted key of each event, as an index; the generator
// turns it into a name. at is the event's intended send time from the start
// of the run, for key sets that move over time.
type Keys interface {
	Next(r *rand.Rand, at time.Duration) uint64
}

// Uniform picks each of N keys with equal probability.
type Uniform struct{ N uint64 }

// Next implements Keys.
func (u Uniform) Next(r *rand.Rand, _ time.Duration) uint64 { return r.Uint64N(u.N) }

// Zipf picks key i (0-based) of N with probability proportional to
// 1/(i+1)^s, for any s > 0 (math/rand/v2's Zipf needs s > 1). It samples
// by binary search over a precomputed cumulative table (8 bytes a key).
type Zipf struct {
	cdf []float64
}

// NewZipf is a Zipf over n keys with exponent s.
func NewZipf(n int, s float64) (*Zipf, error) {
	if n < 1 {
		return nil, fmt.Errorf("sim: zipf: need at least 1 key, got %d", n)
	}
	if !(s > 0) || math.IsInf(s, 0) {
		return nil, fmt.Errorf("sim: zipf: exponent must be > 0, got %v", s)
	}
	cdf := make([]float64, n)
	var sum float64
	for i := range cdf {
		sum += math.Pow(float64(i+1), -s)
		cdf[i] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	cdf[n-1] = 1
	return &Zipf{cdf: cdf}, nil
}

// Next implements Keys.
func (z *Zipf) Next(r *rand.Rand, _ time.Duration) uint64 {
	u := r.Float64()
	return uint64(sort.SearchFloat64s(z.cdf, u))
}

// Prob is the probability of key i.
func (z *Zipf) Prob(i int) float64 {
	if i == 0 {
		return z.cdf[0]
	}
	return z.cdf[i] - z.cdf[i-1]
}

// Hotspot sends Share of the events to a small hot set of Hot keys that
// moves every Period (to the next Hot keys of N), and the rest to Base.
type Hotspot struct {
	Base   Keys
	N      uint64
	Hot    uint64
	Share  float64
	Period time.Duration
}

// Next implements Keys.
func (h Hotspot) Next(r *rand.Rand, at time.Duration) uint64 {
	if r.Float64() >= h.Share {
		return h.Base.Next(r, at)
	}
	step := uint64(0)
	if h.Period > 0 {
		step = uint64(at / h.Period)
	}
	return (step*h.Hot + r.Uint64N(h.Hot)) % h.N
}

// Churn shifts Base's key space by PerSecond new keys a second: key i of
// Base at time t is key i + t*PerSecond, so new keys keep appearing and old
// ones fade out, with Base's skew.
type Churn struct {
	Base      Keys
	PerSecond float64
}

// Next implements Keys.
func (c Churn) Next(r *rand.Rand, at time.Duration) uint64 {
	return c.Base.Next(r, at) + uint64(at.Seconds()*c.PerSecond)
}
