package faults

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestRandomExpand: the same seed gives the same schedule, another seed
// another; every fault is valid, inside [from, duration-tail], and faults
// of one class keep min_gap apart.
func TestRandomExpand(t *testing.T) {
	const dur = 60 * time.Second
	f := func(r Random, workers int) []Spec {
		t.Helper()
		a, err := r.Expand(dur, workers, nil)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		b, _ := r.Expand(dur, workers, nil)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: two expansions differ:\n%v\n%v", r.Seed, a, b)
		}
		d := r.withDefaults()
		if len(a) != d.Count {
			t.Fatalf("%d faults, want %d", len(a), d.Count)
		}
		for i, s := range a {
			if err := s.Validate(); err != nil {
				t.Errorf("fault %d %+v: %v", i, s, err)
			}
			if s.Start < d.From || s.Start+s.Duration > dur-d.Tail || s.Duration < d.MinDuration || s.Duration > d.MaxDuration {
				t.Errorf("fault %d %+v outside the window or duration bounds", i, s)
			}
			if i > 0 && s.Start < a[i-1].Start {
				t.Errorf("not sorted by start: %v", a)
			}
			if w, ok := s.Params["worker"].(int); ok && (w < 0 || w >= workers) {
				t.Errorf("fault %d: worker %d of %d", i, w, workers)
			}
			for _, o := range a[i+1:] {
				if Class(o.Kind) == Class(s.Kind) && o.Start < s.Start+s.Duration+d.MinGap && s.Start < o.Start+o.Duration+d.MinGap {
					t.Errorf("%s and %s on target %s closer than min_gap", s.Name, o.Name, Class(s.Kind))
				}
			}
		}
		if err := Overlaps(a); err != nil {
			t.Error(err)
		}
		return a
	}
	one := f(Random{Seed: 1}, 2)
	two := f(Random{Seed: 2}, 2)
	if reflect.DeepEqual(one, two) {
		t.Error("seeds 1 and 2 give the same schedule")
	}
	many := f(Random{Seed: 3, Count: 20, MinDuration: time.Second, MaxDuration: 2 * time.Second, MinGap: time.Second}, 3)
	seen := map[string]bool{}
	for _, s := range many {
		seen[s.Kind] = true
	}
	for _, k := range DefaultRandomKinds {
		if !seen[k] {
			t.Errorf("20 faults drawn from the defaults, none a %s", k)
		}
	}
	only := f(Random{Seed: 4, Count: 3, Kinds: []string{"overload"}, Params: map[string]map[string]any{"overload": {"factor": 2}}}, 1)
	for _, s := range only {
		if s.Kind != "overload" || s.Params["factor"] != 2 {
			t.Errorf("%+v: want overloads with factor 2", s)
		}
	}
	fixed := []Spec{{Kind: "sink-outage", Start: 20 * time.Second, Duration: 10 * time.Second}}
	for seed := uint64(0); seed < 20; seed++ {
		got, err := Random{Seed: seed, Count: 2, Kinds: []string{"sink-outage", "overload"}}.Expand(dur, 1, fixed)
		if err != nil {
			t.Fatal(err)
		}
		if err := Overlaps(append(got, fixed...)); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, s := range got {
			if s.Kind == "sink-outage" && s.Start < 32*time.Second && s.Start+s.Duration > 18*time.Second {
				t.Fatalf("seed %d: %+v within min_gap of the fixed sink-outage", seed, s)
			}
		}
	}
	if be := f(Random{Seed: 5, Count: 2, Kinds: []string{"broker-errors"}}, 1); be[0].Params["probability"] != 0.3 {
		t.Errorf("broker-errors drawn with params %v, want RandomParams", be[0].Params)
	}
}

func TestRandomErrors(t *testing.T) {
	f := func(r Random, dur time.Duration, want string) {
		t.Helper()
		_, err := r.Expand(dur, 1, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: got %v, want an error with %q", r, err, want)
		}
	}
	min := time.Minute
	f(Random{Count: 101}, min, "count")
	f(Random{Kinds: []string{"meteor"}}, min, `unknown fault kind "meteor"`)
	f(Random{MinDuration: 5 * time.Second, MaxDuration: time.Second}, min, "min_duration")
	f(Random{}, 12*time.Second, "shorter than max_duration")
	f(Random{Kinds: []string{"overload"}, Params: map[string]map[string]any{"sink-outage": {}}}, min, "params.sink-outage")
	f(Random{Kinds: []string{"overload"}, Params: map[string]map[string]any{"overload": {"factor": -1}}}, min, "param factor")
	f(Random{Count: 30, Kinds: []string{"sink-outage"}, MinDuration: 5 * time.Second, MaxDuration: 5 * time.Second}, min, "no room left on the target of any kind")
}

func TestOverlaps(t *testing.T) {
	f := func(want string, specs ...Spec) {
		t.Helper()
		err := Overlaps(specs)
		switch {
		case want == "" && err != nil:
			t.Errorf("%v: %v", specs, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%v: got %v, want an error with %q", specs, err, want)
		}
	}
	s := func(kind string, start, dur int, params map[string]any) Spec {
		return Spec{Kind: kind, Start: time.Duration(start) * time.Second, Duration: time.Duration(dur) * time.Second, Params: params}
	}
	f("", s("overload", 1, 5, nil), s("overload", 6, 5, nil))
	f("overlap", s("overload", 1, 5, nil), s("overload", 5, 5, nil))
	f("", s("overload", 1, 5, nil), s("clock-skew", 2, 5, nil), s("late-burst", 3, 5, nil))
	f("overlap", s("sink-outage", 1, 5, nil), s("sink-outage", 3, 1, nil))
	f("", s("worker-crash", 1, 5, map[string]any{"worker": 0}), s("worker-pause", 2, 5, map[string]any{"worker": 1}))
	f("worker 1", s("worker-crash", 1, 5, map[string]any{"worker": 1}), s("worker-pause", 2, 5, map[string]any{"worker": 1}))
	f("", s("broker-errors", 1, 5, nil), s("broker-errors", 2, 5, nil))
}
