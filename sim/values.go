package sim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Values picks an event's value. Values are whole numbers so that sums are
// exact in float64 whatever order the engine adds them in.
type Values interface {
	Next(r *rand.Rand) float64
}

// Fixed is always the same value.
type Fixed float64

// Next implements Values.
func (f Fixed) Next(*rand.Rand) float64 { return float64(f) }

// UniformInt is a whole number in [Min, Max].
type UniformInt struct{ Min, Max int64 }

// Next implements Values.
func (u UniformInt) Next(r *rand.Rand) float64 {
	return float64(u.Min + r.Int64N(u.Max-u.Min+1))
}

// TypeSpec is one event type, its share of the events (a weight) and its
// values.
type TypeSpec struct {
	Name   string
	Weight float64
	Values Values
}

// DimSpec is one dimension: its name and values, picked uniformly or, with
// Skew > 0, Zipf-distributed with that exponent (the first value hottest).
type DimSpec struct {
	Name   string
	Values []string
	Skew   float64
}

// dimPicker is a DimSpec ready to sample.
type dimPicker struct {
	name   string
	values []string
	keys   Keys
}

func newDimPicker(d DimSpec) (dimPicker, error) {
	if len(d.Values) == 0 {
		return dimPicker{}, fmt.Errorf("sim: dimension %q has no values", d.Name)
	}
	p := dimPicker{name: d.Name, values: d.Values, keys: Uniform{N: uint64(len(d.Values))}}
	if d.Skew > 0 {
		z, err := NewZipf(len(d.Values), d.Skew)
		if err != nil {
			return p, fmt.Errorf("sim: dimension %q: %w", d.Name, err)
		}
		p.keys = z
	}
	return p, nil
}

// DimValues is n generated values "prefix1".."prefixN" for a DimSpec.
func DimValues(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i+1)
	}
	return out
}

func (p *dimPicker) next(r *rand.Rand) string { return p.values[p.keys.Next(r, time.Duration(0))] }
