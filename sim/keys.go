package sim

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
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
// from an alias table (Walker, Vose): one 64-bit draw picks a cell
// uniformly (its high bits) and the cell's threshold decides between the
// cell's key and its alias (its low bits), so a draw reads one 16-byte
// cell, not the ~log2(N) scattered reads of a binary search over the
// cumulative table (at steady-50k's 10,000 keys the search was most of
// the generator's cache misses).
type Zipf struct {
	cells []zipfCell
	pmf   []float64
}

// zipfCell is one cell of the alias table: a draw landing in cell i
// whose low bits are below thresh is key i, otherwise key alias.
type zipfCell struct {
	thresh uint64
	alias  uint64
}

// NewZipf is a Zipf over n keys with exponent s.
func NewZipf(n int, s float64) (*Zipf, error) {
	if n < 1 {
		return nil, fmt.Errorf("sim: zipf: need at least 1 key, got %d", n)
	}
	if !(s > 0) || math.IsInf(s, 0) {
		return nil, fmt.Errorf("sim: zipf: exponent must be > 0, got %v", s)
	}
	pmf := make([]float64, n)
	var sum float64
	for i := range pmf {
		pmf[i] = math.Pow(float64(i+1), -s)
		sum += pmf[i]
	}
	for i := range pmf {
		pmf[i] /= sum
	}
	return &Zipf{cells: aliasTable(pmf), pmf: pmf}, nil
}

// aliasTable is Vose's alias table of pmf (which sums to 1): cell i keeps
// the share n*pmf[i] of its key when that is under 1 and lends the rest
// of its width to a key with more than 1.
func aliasTable(pmf []float64) []zipfCell {
	n := len(pmf)
	cells := make([]zipfCell, n)
	scaled := make([]float64, n)
	var small, large []int
	for i, p := range pmf {
		scaled[i] = p * float64(n)
		if scaled[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		l, g := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		cells[l] = zipfCell{thresh: fraction64(scaled[l]), alias: uint64(g)}
		scaled[g] -= 1 - scaled[l]
		if scaled[g] < 1 {
			large = large[:len(large)-1]
			small = append(small, g)
		}
	}
	// What is left is 1 up to rounding: the cell is its own key.
	for _, i := range append(small, large...) {
		cells[i] = zipfCell{thresh: math.MaxUint64, alias: uint64(i)}
	}
	return cells
}

// fraction64 is q in [0, 1) as a 64-bit fixed-point fraction.
func fraction64(q float64) uint64 {
	if q <= 0 {
		return 0
	}
	if q >= 1 {
		return math.MaxUint64
	}
	return uint64(q * (1 << 64))
}

// Next implements Keys.
func (z *Zipf) Next(r *rand.Rand, _ time.Duration) uint64 {
	// hi is uniform in [0, n); lo, the fraction the product leaves, is
	// uniform over 64 bits and independent of hi up to n/2^64.
	hi, lo := bits.Mul64(r.Uint64(), uint64(len(z.cells)))
	c := &z.cells[hi]
	if lo < c.thresh {
		return hi
	}
	return c.alias
}

// Prob is the probability of key i.
func (z *Zipf) Prob(i int) float64 { return z.pmf[i] }

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
