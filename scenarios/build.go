package scenarios

import (
	"fmt"
	"time"

	"github.com/countlab/countlab/sim"
)

// lateMargin is how far beyond window + lateness + out-of-orderness a
// too-late event's time lies, so that it is late for sure.
const lateMargin = 30 * time.Second

// RateFunc is the traffic's rate shape.
func (s *Scenario) RateFunc() sim.Rate {
	r := s.Traffic.Rate
	switch r.Shape {
	case "ramp":
		return sim.Ramp{From: r.EventsPerS, To: r.ToEventsPerS, Over: r.Over}
	case "spike":
		return sim.Spike{Base: r.EventsPerS, Peak: r.PeakEventsPerS, Start: r.At, For: r.For}
	case "diurnal":
		return sim.Diurnal{Mean: r.EventsPerS, Amplitude: r.Amplitude, Period: r.Period}
	}
	return sim.Constant(r.EventsPerS)
}

// OfferedEvents is the number of sends the schedule makes over the
// duration (the integral of the rate), approximately.
func (s *Scenario) OfferedEvents() float64 {
	rate := s.RateFunc()
	const steps = 1000
	dt := s.Duration / steps
	var n float64
	for i := 0; i < steps; i++ {
		n += rate.At(time.Duration(i)*dt+dt/2) * dt.Seconds()
	}
	return n
}

// Schedule is the traffic's schedule of intended send times.
func (s *Scenario) Schedule() *sim.Schedule {
	return sim.NewSchedule(s.RateFunc(), s.Traffic.Arrival == "poisson", s.Seed+1)
}

// LateBy is how far before its send time a too-late event's time lies.
func (s *Scenario) LateBy() time.Duration {
	return s.Engine.Windows[len(s.Engine.Windows)-1] + s.Engine.Lateness + s.Engine.OutOfOrderness + lateMargin
}

// GeneratorConfig is the sim.Config of the traffic; idPrefix makes the
// run's event ids unique, start is the run's wall-clock start.
func (s *Scenario) GeneratorConfig(idPrefix string, start time.Time) (sim.Config, error) {
	t := &s.Traffic
	var keys sim.Keys
	switch t.Keys.Distribution {
	case "uniform":
		keys = sim.Uniform{N: uint64(t.Keys.Count)}
	default:
		z, err := sim.NewZipf(t.Keys.Count, t.Keys.ZipfS)
		if err != nil {
			return sim.Config{}, fmt.Errorf("traffic.keys: %w", err)
		}
		keys = z
	}
	if t.Keys.Distribution == "hotspot" {
		keys = sim.Hotspot{Base: keys, N: uint64(t.Keys.Count), Hot: uint64(t.Keys.Hot), Share: t.Keys.HotShare, Period: t.Keys.HotPeriod}
	}
	if t.Keys.ChurnPerS > 0 {
		keys = sim.Churn{Base: keys, PerSecond: t.Keys.ChurnPerS}
	}
	cfg := sim.Config{
		Seed:      s.Seed,
		IDPrefix:  idPrefix,
		KeyPrefix: t.Keys.Prefix,
		Start:     start,
		Keys:      keys,
		Disorder: sim.Disorder{
			OutOfOrder: t.Disorder.OutOfOrder,
			MaxDelay:   t.Disorder.MaxDelay,
			TooLate:    t.Disorder.TooLate,
			LateBy:     s.LateBy(),
			LateAfter:  5 * time.Second,
			ClockSkew:  t.Disorder.ClockSkew,
			Clients:    t.Disorder.Clients,
		},
		Duplicates: sim.Duplicates{Fraction: t.Duplicates.Fraction, Burst: t.Duplicates.Burst},
		Malformed:  sim.Malformed{Fraction: t.Malformed.Fraction, Kinds: t.Malformed.Kinds},
		Hostile:    sim.Hostile{Fraction: t.Hostile.Fraction},
	}
	for _, k := range sim.HostileKinds { // in a fixed order: the same seed, the same events
		if w, ok := t.Hostile.Kinds[k]; ok {
			cfg.Hostile.Kinds = append(cfg.Hostile.Kinds, sim.HostileShare{Kind: k, Weight: w})
		}
	}
	for _, r := range t.RouteList() {
		f, err := sim.ParseFormat(r.Format)
		if err != nil {
			return sim.Config{}, fmt.Errorf("traffic.routes: %w", err)
		}
		cfg.Routes = append(cfg.Routes, sim.Route{Weight: r.Weight, Format: f, Direct: r.Via == "kafka"})
	}
	for _, ty := range t.Types {
		var v sim.Values = sim.Fixed(ty.ValueMin)
		if ty.ValueMax > ty.ValueMin {
			v = sim.UniformInt{Min: ty.ValueMin, Max: ty.ValueMax}
		}
		cfg.Types = append(cfg.Types, sim.TypeSpec{Name: ty.Name, Weight: ty.Weight, Values: v})
	}
	for _, d := range t.Dims {
		vals := d.Values
		if len(vals) == 0 {
			vals = sim.DimValues("v", d.Count)
		}
		cfg.Dims = append(cfg.Dims, sim.DimSpec{Name: d.Name, Values: vals, Skew: d.Skew})
	}
	return cfg, nil
}

// RouteList is the traffic's routes: Routes, or the one of Via and
// Format (defaults filled).
func (t *Traffic) RouteList() []Route {
	if len(t.Routes) > 0 {
		return t.Routes
	}
	return []Route{{Via: t.Via, Format: t.Format, Weight: 1}}
}

// ExpandRandomFaults adds the faults random_faults draws (if any) to
// Faults, after those listed (once: a second call does nothing); call it
// after a --fault-seed override and before Validate. The drawn faults then show in ConfigMap, as the
// run's schedule.
func (s *Scenario) ExpandRandomFaults() error {
	if s.RandomFaults == nil || s.randomDrawn {
		return nil
	}
	specs, err := s.RandomFaults.Expand(s.Duration, s.Engine.Workers, s.Faults)
	if err != nil {
		return &FieldError{Path: "random_faults", Msg: err.Error()}
	}
	s.Faults = append(s.Faults, specs...)
	s.randomDrawn = true
	return nil
}
