package countlab

import (
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/sim"
)

func TestGeneratorOptions(t *testing.T) {
	f := func(name string, o GeneratorOptions, wantErr string, check func(t *testing.T, cfg sim.Config)) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			cfg, err := o.config()
			if wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), wantErr) {
					t.Fatalf("err %v, want one containing %q", err, wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sim.NewGenerator(cfg); err != nil {
				t.Fatal(err)
			}
			if check != nil {
				check(t, cfg)
			}
		})
	}
	f("defaults", GeneratorOptions{}, "", func(t *testing.T, cfg sim.Config) {
		if _, ok := cfg.Keys.(sim.Uniform); !ok || len(cfg.Types) != 1 || cfg.Types[0].Name != "VIEW" {
			t.Fatalf("keys %T types %v", cfg.Keys, cfg.Types)
		}
		if cfg.Disorder.LateBy != 5*time.Minute || cfg.Disorder.LateAfter != 5*time.Second {
			t.Fatalf("disorder %+v", cfg.Disorder)
		}
	})
	f("zipf, typed values, dims", GeneratorOptions{Keys: 10, ZipfS: 1.1,
		Types: []any{"LIKE", map[string]any{"name": "VIEW", "weight": int64(3), "min": int64(1), "max": float64(9)}},
		Dims:  map[string]any{"country": []any{"US", "DE"}, "device": int64(3)}}, "", func(t *testing.T, cfg sim.Config) {
		if _, ok := cfg.Keys.(*sim.Zipf); !ok {
			t.Fatalf("keys %T", cfg.Keys)
		}
		if v, ok := cfg.Types[1].Values.(sim.UniformInt); !ok || v != (sim.UniformInt{Min: 1, Max: 9}) || cfg.Types[1].Weight != 3 {
			t.Fatalf("type %+v", cfg.Types[1])
		}
		if len(cfg.Dims) != 2 {
			t.Fatalf("dims %v", cfg.Dims)
		}
	})
	f("bad type", GeneratorOptions{Types: []any{int64(3)}}, "types[0]", nil)
	f("nameless type", GeneratorOptions{Types: []any{map[string]any{"weight": 1.0}}}, "needs a name", nil)
	f("bad dims", GeneratorOptions{Dims: map[string]any{"x": "y"}}, "dims.x", nil)
	f("bad late_by", GeneratorOptions{LateBy: "soon"}, "late_by", nil)
}

func TestParseWindows(t *testing.T) {
	f := func(s string, want []time.Duration, ok bool) {
		t.Helper()
		got, err := parseWindows(s)
		if (err == nil) != ok || ok && len(got) != len(want) {
			t.Fatalf("parseWindows(%q) = %v, %v", s, got, err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("parseWindows(%q) = %v, want %v", s, got, want)
			}
		}
	}
	f("1m", []time.Duration{time.Minute}, true)
	f("10s, 1m", []time.Duration{10 * time.Second, time.Minute}, true)
	f("", nil, false)
	f("1500ms", nil, false)
	f("x", nil, false)
}

func TestSeqs(t *testing.T) {
	seen := map[uint64]bool{}
	for vu := uint64(0); vu < 50; vu++ {
		for seq := uint64(0); seq < 200; seq++ {
			s := generatedSeq(vu, seq)
			if seen[s] {
				t.Fatalf("generatedSeq(%d, %d) repeats", vu, seq)
			}
			seen[s] = true
		}
	}
	if a, b := idSeq("e-1"), idSeq("e-1"); a != b || a>>63 != 1 {
		t.Fatalf("idSeq: %x %x", a, b)
	}
	if idSeq("e-1") == idSeq("e-2") {
		t.Fatal("idSeq: e-1 and e-2 collide")
	}
}

func TestTimeOf(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	f := func(v any, want time.Time, ok bool) {
		t.Helper()
		got, err := timeOf(v, now)
		if (err == nil) != ok || ok && !got.Equal(want) {
			t.Fatalf("timeOf(%v) = %v, %v; want %v", v, got, err, want)
		}
	}
	f(nil, time.Time{}, true)
	f(int64(1_700_000_000_500), now.Add(500*time.Millisecond), true)
	f(float64(1_700_000_000_500), now.Add(500*time.Millisecond), true)
	f("-5m", now.Add(-5*time.Minute), true)
	f("1700000000000", now, true)
	f("2023-11-14T22:13:20Z", now, true)
	f("yesterday", time.Time{}, false)
	f(true, time.Time{}, false)
}

func TestEventFromObject(t *testing.T) {
	e, err := eventFromObject(map[string]any{"id": "a", "key": "k", "type": "VIEW", "ts": int64(5),
		"dims": map[string]any{"z": "1", "a": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Value != 1 || e.TS != 5 || e.DimSet() != "a=2,z=1" {
		t.Fatalf("event %+v dimset %q", e, e.DimSet())
	}
	if _, err := eventFromObject(map[string]any{"key": "k"}); err == nil {
		t.Fatal("an event without an id was accepted")
	}
}
