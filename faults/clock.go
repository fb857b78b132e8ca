package faults

import (
	"context"
	"fmt"
	"time"
)

// Clock is what clock-skew and late-burst need from a Target: the run's
// traffic generator, whose event times they shift. A Target without it
// makes them fail with ErrUnsupported.
type Clock interface {
	// SetClockSkew shifts the event times of share (in [0, 1]) of the
	// clients by offset (positive: their clocks are ahead) from now on;
	// share 0 ends it. The last call wins: clock-skew faults of a
	// scenario must not overlap (Overlaps).
	SetClockSkew(share float64, offset time.Duration) error
	// SetLateBurst sends share (in [0, 1]) of the events too late, after
	// their window closed (beyond the allowed lateness: the late policy
	// applies, and a reconcile counts them), from now on; share 0 ends
	// it. The last call wins, as for SetClockSkew.
	SetLateBurst(share float64) error
}

// MaxClockOffset bounds clock-skew's offset. Whether an offset keeps the
// skewed events on time depends on the engine's out-of-orderness and
// lateness: the scenario's validation checks that.
const MaxClockOffset = time.Hour

func clockOf(t Target, kind string) (Clock, error) {
	c, ok := t.(Clock)
	if !ok {
		return nil, fmt.Errorf("%s needs the run's traffic generator: %w", kind, ErrUnsupported)
	}
	return c, nil
}

// shareParam is the param share in (0, 1], def when absent.
func shareParam(p *params, def float64) (float64, error) {
	s, err := p.float("share", def)
	if err != nil {
		return 0, err
	}
	if !(s > 0 && s <= 1) {
		return 0, fmt.Errorf("param share: must be in (0, 1] (got %v)", s)
	}
	return s, nil
}

// clockSkew shifts the event times of a share of the clients.
type clockSkew struct {
	share  float64
	offset time.Duration
}

// DefaultClockOffset is clock-skew's default offset: a client clock 5 s
// ahead, within the default out-of-orderness + lateness (20 s) with room
// to spare.
const DefaultClockOffset = 5 * time.Second

func buildClockSkew(p *params) (Fault, error) {
	share, err := shareParam(p, 0.5)
	if err != nil {
		return nil, err
	}
	off, err := durationParam(p, "offset", DefaultClockOffset)
	if err != nil {
		return nil, err
	}
	if off == 0 || off%time.Millisecond != 0 || off > MaxClockOffset || off < -MaxClockOffset {
		return nil, fmt.Errorf("param offset: must be a whole number of milliseconds, not 0, within ±%s (got %s)", MaxClockOffset, off)
	}
	return &clockSkew{share: share, offset: off}, nil
}

func (f *clockSkew) Inject(_ context.Context, t Target) error {
	c, err := clockOf(t, "clock-skew")
	if err != nil {
		return err
	}
	return c.SetClockSkew(f.share, f.offset)
}

func (f *clockSkew) Heal(_ context.Context, t Target) error {
	c, err := clockOf(t, "clock-skew")
	if err != nil {
		return err
	}
	return c.SetClockSkew(0, 0)
}

// lateBurst sends a share of the events too late.
type lateBurst struct{ share float64 }

func buildLateBurst(p *params) (Fault, error) {
	share, err := shareParam(p, 0.2)
	if err != nil {
		return nil, err
	}
	return &lateBurst{share: share}, nil
}

func (f *lateBurst) Inject(_ context.Context, t Target) error {
	c, err := clockOf(t, "late-burst")
	if err != nil {
		return err
	}
	return c.SetLateBurst(f.share)
}

func (f *lateBurst) Heal(_ context.Context, t Target) error {
	c, err := clockOf(t, "late-burst")
	if err != nil {
		return err
	}
	return c.SetLateBurst(0)
}

// ClockOffset is the event-time offset a fault spec shifts events by (a
// clock-skew's offset), 0 for other kinds or an invalid spec: the
// scenario's validation checks it against the engine's out-of-orderness
// and lateness.
func ClockOffset(s Spec) time.Duration {
	if s.Kind != "clock-skew" {
		return 0
	}
	f, err := New(s)
	if err != nil {
		return 0
	}
	if c, ok := f.(*clockSkew); ok {
		return c.offset
	}
	return 0
}

// durationParam is the param name as a duration ("5s", "-2s"), def when
// absent.
func durationParam(p *params, name string, def time.Duration) (time.Duration, error) {
	v, ok := p.take(name)
	if !ok {
		return def, nil
	}
	switch d := v.(type) {
	case time.Duration:
		return d, nil
	case string:
		if x, err := time.ParseDuration(d); err == nil {
			return x, nil
		}
	}
	return 0, fmt.Errorf("param %s: want a duration like 5s or -2s, got %v", name, v)
}
