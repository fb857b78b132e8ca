package strictyaml

import (
	"strings"
	"testing"
	"time"
)

type doc struct {
	Name   string        `yaml:"name"`
	Every  time.Duration `yaml:"every"`
	Search struct {
		Max  int           `yaml:"max_events_per_s"`
		Step time.Duration `yaml:"step_duration"`
	} `yaml:"search"`
	Items []struct {
		inner `yaml:",inline"`
		Kind  string `yaml:"kind"`
	} `yaml:"items"`
}

type inner struct {
	Probe string  `yaml:"probe"`
	Max   float64 `yaml:"max"`
}

// TestDecode: each decoding mistake names the field's path and line, with
// the fix.
func TestDecode(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"", "d.yaml: empty file; start with name:"},
		{"name: [", "d.yaml: not YAML"},
		{"name: a\nnmae: b\n", `nmae (line 2): unknown field "nmae"; try "name"`},
		{"name: a\nzzzzzz: b\n", `zzzzzz (line 2): unknown field "zzzzzz"; try one of name, every, search, items`},
		{"search: {max_events_per_s: 1, step_duratio: 1s}\n", `search.step_duratio (line 1): unknown field "step_duratio"; try "step_duration"`},
		{"search:\n  max_events_per_s: 1\n  step_duration: [1]\n", "search.step_duration (line 3): wrong type: a list is not a duration; try a duration like 30s, 5m or 1h"},
		{"search: {max_events_per_s: 1, step_duration: [1]}\n", "search.step_duration (line 1): wrong type: a list is not a duration"},
		{"search: {max_events_per_s: many}\n", `search.max_events_per_s (line 1): wrong type: text "many" is not a whole number; try a whole number like 10`},
		{"every:\n  - 1s\n", "every (line 2): wrong type: a list is not a duration"},
		{"items:\n  - {probe: p, max: 1, mx: 2}\n", `items[0].mx (line 2): unknown field "mx"; try "max"`},
		{"items:\n  - {probe: p, max: lots}\n", `items[0].max (line 2): wrong type: text "lots" is not a number`},
	} {
		var d doc
		err := Decode("d.yaml", []byte(c.yaml), &d, Start("name:"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v\nwant an error with %q", c.yaml, err, c.want)
		}
	}
	var d doc
	if err := Decode("d.yaml", []byte("name: a\nitems: [{probe: p, max: 1, kind: k}]\n"), &d); err != nil || d.Items[0].Probe != "p" {
		t.Fatalf("good file: %v %+v", err, d)
	}
}

// TestSuggest: a file's own wording of an unknown field's fix.
func TestSuggest(t *testing.T) {
	var d doc
	err := Decode("d.yaml", []byte("nam: a\n"), &d, Suggest(func(best string, known []string) string {
		return "did you mean " + best + "? (" + strings.Join(known, " ") + ")"
	}))
	if want := "nam (line 1): unknown field \"nam\"; did you mean name? (name every search items)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
}

// TestErrors: the collected mistakes, one a line; none is a nil error.
func TestErrors(t *testing.T) {
	var es Errors
	if es.Err() != nil {
		t.Fatal("no mistakes, but an error")
	}
	es.Add("a.b", "missing", "give it")
	es.Add("", "empty", "")
	if got, want := es.Err().Error(), "a.b: missing; give it\n(top level): empty"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestClosest(t *testing.T) {
	known := []string{"connections", "zipf_s", "slo"}
	for s, want := range map[string]string{"conections": "connections", "zipfs": "zipf_s", "slos": "slo", "colour": ""} {
		if got := Closest(s, known); got != want {
			t.Errorf("Closest(%q) = %q, want %q", s, got, want)
		}
	}
}
