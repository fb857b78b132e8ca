package rollup

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC).UnixMilli()

func ms(d time.Duration) int64 { return d.Milliseconds() }

func TestValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]Config{
		"granularities: none":           {},
		"granularities[0].window":       {Granularities: []Granularity{{Window: 1500 * time.Millisecond}}},
		"granularities[1].window":       {Granularities: []Granularity{{Window: time.Minute}, {Window: 90 * time.Second}}},
		"granularities[1].retention":    {Granularities: []Granularity{{Window: time.Minute, Retention: time.Hour}, {Window: time.Hour, Retention: time.Minute}}},
		"granularities[0].retention: -": {Granularities: []Granularity{{Window: time.Minute, Retention: -1}}},
		"granularities[1].policy":       {Granularities: []Granularity{{Window: time.Minute, Policy: "a"}, {Window: time.Hour, Policy: "a"}}},
		"events":                        {Granularities: []Granularity{{Window: time.Minute}}, Events: -time.Second},
	}
	for want, c := range bad {
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%+v: got %v, want an error starting %q", c, err, want)
		}
	}
	// A forever finer granularity with a bounded coarser one is refused.
	c := Config{Granularities: []Granularity{{Window: time.Minute}, {Window: time.Hour, Retention: time.Hour}}}
	if err := c.Validate(); err == nil {
		t.Error("forever minute totals with 1h hour totals: no error")
	}
}

func TestRules(t *testing.T) {
	c := Config{Granularities: []Granularity{{Window: 10 * time.Second, Retention: 30 * time.Second}, {Window: time.Minute, Retention: 2 * time.Hour}, {Window: time.Hour}}, Events: time.Hour}
	now := t0 + ms(time.Hour) + 12_345
	g, _ := c.Of(ms(10 * time.Second))
	if f := g.Floor(now); f != t0+ms(time.Hour)-10_000 || f%10_000 != 0 {
		t.Errorf("floor %d", f-t0)
	}
	if !c.Expired(10_000, now-30_001-10_000, now) || c.Expired(10_000, now-30_000, now) || c.Expired(ms(time.Hour), 0, now) {
		t.Error("Expired")
	}
	if !g.Emulated() || g.StoredDuration() != time.Hour {
		t.Error("a 30s retention is stored in a 1h policy, enforced by the sink")
	}
	if g.PolicyName() != "countlab_10s" {
		t.Error(g.PolicyName())
	}
	if c.Recountable(now-ms(time.Hour)+ms(4*time.Minute), now) || !c.Recountable(now-ms(time.Hour)+ms(5*time.Minute), now) {
		t.Error("Recountable")
	}
}

func TestPlanExample(t *testing.T) {
	c := Config{Granularities: []Granularity{{Window: time.Minute, Retention: 2 * time.Hour}, {Window: time.Hour, Retention: 48 * time.Hour}, {Window: 24 * time.Hour}}}
	now := t0 + ms(5*24*time.Hour) + ms(10*time.Hour) // day 5, 10:00
	// Day 2 10:05 to day 5 09:30: hours are kept from day 3 10:00, used
	// from day 4 (whole days before), so 10:05 of day 2 rounds to the day;
	// days 2 to 4, hours 0..8 of day 5 (whole hours, though minutes are kept
	// from 08:00), minutes 09:00..09:30.
	H, D := ms(time.Hour), ms(24*time.Hour)
	check := func(from, to int64, want []Piece) {
		t.Helper()
		p, err := c.Plan(from, to, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Pieces) != len(want) {
			t.Fatalf("pieces %+v, want %+v", p.Pieces, want)
		}
		var n int64
		for i := range want {
			if p.Pieces[i] != want[i] {
				t.Errorf("piece %d = %+v, want %+v", i, p.Pieces[i], want[i])
			}
			n += want[i].Windows()
		}
		if p.From != want[0].From || p.To != want[len(want)-1].To || p.Windows() != n {
			t.Errorf("plan %+v windows %d", p, p.Windows())
		}
	}
	check(t0+2*D+10*H+ms(5*time.Minute), t0+5*D+9*H+ms(30*time.Minute), []Piece{
		{D, t0 + 2*D, t0 + 5*D},
		{H, t0 + 5*D, t0 + 5*D + 9*H},
		{ms(time.Minute), t0 + 5*D + 9*H, t0 + 5*D + 9*H + ms(30*time.Minute)},
	})
	// Day 4 10:05 to day 5 08:00: hours 10..24 of day 4 and 0..7 of day 5,
	// one piece.
	check(t0+4*D+10*H+ms(5*time.Minute), t0+5*D+8*H, []Piece{{H, t0 + 4*D + 10*H, t0 + 5*D + 8*H}})
	// Recent: minutes only.
	check(now-ms(90*time.Second), now, []Piece{{ms(time.Minute), now - 2*ms(time.Minute), now}})
	// Before the hour floor (day 3 10:00) but after nothing else: days.
	bounded := Config{Granularities: c.Granularities[:2]}
	var ee *ExpiredError
	if _, err := bounded.Plan(t0, t0+ms(time.Hour), now); !errors.As(err, &ee) {
		t.Fatalf("a range before every retention: %v", err)
	}
}

// TestPlanProperties draws configurations and ranges and checks that
// every plan covers its effective range exactly with whole, retained
// windows, contains the asked range, and rounds each edge only to the
// finest granularity retained there.
func TestPlanProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	bases := []int64{1_000, 10_000, 60_000}
	for iter := 0; iter < 20000; iter++ {
		c := Config{}
		size := bases[r.IntN(len(bases))]
		ret := int64(0)
		if r.IntN(4) > 0 {
			ret = size * (1 + r.Int64N(50))
		}
		for k := 0; k < 1+r.IntN(3); k++ {
			if k > 0 {
				size *= int64(2 + r.IntN(6))
				if ret != 0 && r.IntN(3) > 0 {
					ret += size * r.Int64N(20)
				} else if r.IntN(3) == 0 {
					ret = 0
				}
			}
			c.Granularities = append(c.Granularities, Granularity{Window: time.Duration(size) * time.Millisecond, Retention: time.Duration(ret) * time.Millisecond})
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		now := t0 + r.Int64N(1e9)
		span := size * 30
		from := now - r.Int64N(span)
		to := from + 1 + r.Int64N(span)
		p, err := c.Plan(from, to, now)
		var ee *ExpiredError
		if errors.As(err, &ee) {
			if from >= ee.Floor {
				t.Fatalf("%+v [%d,%d): refused though from >= floor %d", c, from-now, to-now, ee.Floor-now)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.From > from || p.To < to {
			t.Fatalf("%+v: plan [%d,%d) does not hold [%d,%d)", c, p.From, p.To, from, to)
		}
		at := p.From
		for _, pc := range p.Pieces {
			g, ok := c.Of(pc.Size)
			if !ok || pc.From != at || pc.From%pc.Size != 0 || pc.To%pc.Size != 0 || pc.To <= pc.From {
				t.Fatalf("%+v: bad piece %+v at %d in %+v", c, pc, at, p)
			}
			if pc.From < g.Floor(now) {
				t.Fatalf("%+v: piece %+v reads expired windows (floor %d)", c, pc, g.Floor(now))
			}
			at = pc.To
		}
		if at != p.To {
			t.Fatalf("%+v: pieces end at %d, plan at %d", c, at, p.To)
		}
		// The from edge: no finer granularity retained at from could have
		// answered it more tightly... unless it is not retained up to the
		// next coarser boundary (its zone starts later).
		first := p.Pieces[0].Size
		if p.From != floorTo(from, first) && p.From != from-from%first {
			t.Fatalf("%+v: from %d rounded to %d, not to its %d window", c, from, p.From, first)
		}
	}
}
