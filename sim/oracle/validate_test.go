package oracle

import (
	"strconv"
	"testing"
)

// TestFromEventDupDims: a dimension name twice is CodeFieldDuplicate,
// whether the event has a few dimensions (compared pairwise) or many (a
// set), wherever the two are.
func TestFromEventDupDims(t *testing.T) {
	dims := func(names ...string) []Dim {
		ds := make([]Dim, len(names))
		for i, n := range names {
			ds[i] = Dim{Name: n, Value: "v"}
		}
		return ds
	}
	many := func(n, dupAt int) []string {
		var ns []string
		for i := range n {
			ns = append(ns, "d"+strconv.Itoa(i))
		}
		if dupAt >= 0 {
			ns[dupAt] = ns[0]
		}
		return ns
	}
	for _, c := range []struct {
		names []string
		want  string
	}{
		{nil, ""},
		{[]string{"a"}, ""},
		{[]string{"a", "b", "c"}, ""},
		{[]string{"a", "b", "a"}, CodeFieldDuplicate},
		{[]string{"b", "a", "a"}, CodeFieldDuplicate},
		{many(8, -1), ""},
		{many(8, 7), CodeFieldDuplicate},
		{many(12, -1), ""},
		{many(12, 11), CodeFieldDuplicate},
		{append(many(12, -1), "d5"), CodeFieldDuplicate},
	} {
		e := Event{ID: "e", Key: "k", Type: "VIEW", TS: 1, Dims: dims(c.names...)}
		if _, code := fromEvent(&e, false); code != c.want {
			t.Errorf("dims %v: code %q, want %q", c.names, code, c.want)
		}
	}
}
