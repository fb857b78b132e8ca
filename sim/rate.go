package sim

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Rate is the intended send rate, in events a second, at time t from the
// start of the run.
type Rate interface {
	At(t time.Duration) float64
}

// Constant is a flat rate.
type Constant float64

// At implements Rate.
func (c Constant) At(time.Duration) float64 { return float64(c) }

// Ramp goes linearly from From to To over Over, then stays at To.
type Ramp struct {
	From, To float64
	Over     time.Duration
}

// At implements Rate.
func (r Ramp) At(t time.Duration) float64 {
	if r.Over <= 0 || t >= r.Over {
		return r.To
	}
	return r.From + (r.To-r.From)*float64(t)/float64(r.Over)
}

// Spike is Base, except Peak during [Start, Start+For).
type Spike struct {
	Base, Peak float64
	Start, For time.Duration
}

// At implements Rate.
func (s Spike) At(t time.Duration) float64 {
	if t >= s.Start && t < s.Start+s.For {
		return s.Peak
	}
	return s.Base
}

// Diurnal is a sine around Mean: Mean*(1 + Amplitude*sin(2πt/Period)),
// starting at the mean and rising; Amplitude in [0, 1].
type Diurnal struct {
	Mean, Amplitude float64
	Period          time.Duration
}

// At implements Rate.
func (d Diurnal) At(t time.Duration) float64 {
	if d.Period <= 0 {
		return d.Mean
	}
	return d.Mean * (1 + d.Amplitude*math.Sin(2*math.Pi*float64(t)/float64(d.Period)))
}

// Schedule is the fixed sequence of intended send times of an open-model
// load: evenly spaced at the current rate, or a Poisson process with that
// rate. It never depends on how fast anything answers.
type Schedule struct {
	rate    Rate
	poisson bool
	r       *rand.Rand
	t       time.Duration
	frac    float64 // sub-nanosecond remainder of evenly spaced arrivals
	// factor multiplies the rate (math.Float64bits; 0 means 1): see
	// SetFactor.
	factor atomic.Uint64
}

// SetFactor multiplies the schedule's rate by f (> 0) from the next send
// on, until the next SetFactor; 1 restores the rate shape as given. It is
// safe to call while another goroutine calls Next: the overload fault
// raises the offered load this way for its duration.
func (s *Schedule) SetFactor(f float64) {
	if !(f > 0) || math.IsInf(f, 0) {
		f = 1
	}
	s.factor.Store(math.Float64bits(f))
}

// Factor is the rate's multiplier now (1 unless SetFactor changed it).
func (s *Schedule) Factor() float64 {
	if b := s.factor.Load(); b != 0 {
		return math.Float64frombits(b)
	}
	return 1
}

// NewSchedule is a schedule of rate, Poisson when poisson, seeded.
func NewSchedule(rate Rate, poisson bool, seed uint64) *Schedule {
	return &Schedule{rate: rate, poisson: poisson, r: rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))}
}

// maxStep is the longest stretch over which the rate is taken as flat
// when finding the next send: short enough to follow ramps and spikes.
const maxStep = 10 * time.Millisecond

// Next returns the next intended send time from the start of the run:
// the time by which the rate's integral has grown by one (evenly spaced),
// or by an exponential draw (Poisson).
func (s *Schedule) Next() time.Duration {
	need := 1.0
	if s.poisson {
		need = s.r.ExpFloat64()
	}
	factor := s.Factor()
	for {
		rate := s.rate.At(s.t) * factor
		if rate > 0 && !math.IsInf(rate, 0) {
			if ns := need/rate*1e9 + s.frac; ns <= float64(maxStep) {
				whole := math.Floor(ns)
				s.frac = ns - whole
				s.t += time.Duration(whole)
				return s.t
			}
			need -= rate * maxStep.Seconds()
		}
		s.t += maxStep
	}
}
