package total

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// refMarshal is the reference encoding: encoding/json of Total.
func refMarshal(t *testing.T, tt Total) []byte {
	t.Helper()
	b, err := json.Marshal(tt)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// refUnmarshal is the reference decoding: encoding/json plus Unmarshal's
// checks.
func refUnmarshal(b []byte) (Total, bool) {
	var t Total
	if err := json.Unmarshal(b, &t); err != nil {
		return t, false
	}
	return t, t.Size > 0 && t.Key != "" && t.Type != ""
}

func TestMarshalMatchesEncodingJSON(t *testing.T) {
	f := func(tt Total) {
		t.Helper()
		want := refMarshal(t, tt)
		if got := mustMarshal(t, tt); !bytes.Equal(got, want) {
			t.Fatalf("Marshal\ngot  %s\nwant %s", got, want)
		}
		if got, _ := tt.AppendJSON([]byte("x")); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("AppendJSON\ngot  %s\nwant x%s", got, want)
		}
	}
	f(Total{Key: "k", Type: "VIEW", Size: 60000, Start: 1767225600000, Count: 1, Sum: 1, Min: 1, Max: 1})
	f(Total{Key: `a"b\c<d>&é` + "\u2028\u2029\x01\t\n\r\b\f\x7f", Type: "CLICK", DimSet: "country=US,device=ios", Sub: 7, Size: 10000, Start: -10000,
		Count: 3, Sum: 0.1 + 0.2, Min: 1e-7, Max: 1e21, Closed: true})
	f(Total{Key: "x\xffy\xc3", Type: "T", Sum: -2.5e-9, Min: math.MaxFloat64, Max: math.Copysign(0, -1)})
	f(Total{Key: "k", Type: "T", Sum: 123456789012345678, Min: 1e20, Max: 12.5, Sub: -1, Count: math.MaxInt64, Start: math.MinInt64})
	f(Total{Key: "k", Type: "T", Sum: 5e-324, Min: 1e-6, Max: 999999999999999999999.0})
	f(Total{Key: "k", Type: "T", Sum: 1<<53 - 1, Min: -(1<<53 - 1), Max: 1 << 53})    // the integer fast path's edges
	f(Total{Key: "k", Type: "T", Sum: -3, Min: 0, Max: float64(1<<53 + 2), Count: 7}) // and past them
	f(Total{})
}

func TestUnmarshal(t *testing.T) {
	f := func(in string, want Total, ok bool) {
		t.Helper()
		got, err := Unmarshal([]byte(in))
		if (err == nil) != ok {
			t.Fatalf("Unmarshal(%s): err %v, want ok %v", in, err, ok)
		}
		if ok && got != want {
			t.Fatalf("Unmarshal(%s)\ngot  %+v\nwant %+v", in, got, want)
		}
		ref, refOK := refUnmarshal([]byte(in))
		if refOK != ok || (ok && ref != got) {
			t.Fatalf("Unmarshal(%s) disagrees with encoding/json: %+v %v", in, ref, refOK)
		}
	}
	base := Total{Key: "k", Type: "VIEW", Size: 60000, Start: 120000, Count: 2, Sum: 3.5, Min: 1, Max: 2.5}
	f(`{"key":"k","type":"VIEW","sub":0,"start":120000,"size":60000,"count":2,"sum":3.5,"min":1,"max":2.5}`, base, true)
	f(` { "size" : 60000 , "start":120000,"key":"k","type":"VIEW","count":2,"sum":35e-1,"min":1.0,"max":2.5E0 } `+"\n", base, true)
	withDims := base
	withDims.DimSet, withDims.Sub, withDims.Closed = "country=US", 3, true
	f(`{"key":"k","type":"VIEW","dims":"country=US","sub":3,"start":120000,"size":60000,"count":2,"sum":3.5,"min":1,"max":2.5,"closed":true}`, withDims, true)
	// the fallback: escapes, null, unknown and differently cased fields
	esc := base
	esc.Key = `a"b<é`
	f(`{"key":"a\"b\u003c\u00e9","type":"VIEW","start":120000,"size":60000,"count":2,"sum":3.5,"min":1,"max":2.5}`, esc, true)
	f(`{"KEY":"k","type":"VIEW","dims":null,"extra":[1,{"a":2}],"start":120000,"size":60000,"count":2,"sum":3.5,"min":1,"max":2.5}`, base, true)
	f(`{"key":"k","key":"k","type":"VIEW","start":120000,"size":60000,"count":2,"sum":3.5,"min":1,"max":2.5,"closed":false}`, base, true)
	// rejected
	f(``, Total{}, false)
	f(`{}`, Total{}, false)
	f(`{"key":"k","type":"VIEW","size":0}`, Total{}, false)
	f(`{"key":"","type":"VIEW","size":60000}`, Total{}, false)
	f(`{"key":"k","type":"VIEW","size":60000}x`, Total{}, false)
	f(`{"key":"k","type":"VIEW","size":60000,}`, Total{}, false)
	f(`{"key":"k","type":"VIEW","size":6e4}`, Total{}, false)
	f(`{"key":"k","type":"VIEW","size":60000,"count":1.5}`, Total{}, false)
	f(`{"key":"k","type":"VIEW","size":60000,"count":01}`, Total{}, false)
	f(`{"key":"k","type":"VIEW","size":60000,"sum":1e999}`, Total{}, false)
	f(`{"key":"k","type":"VIEW","size":60000,"sum":-}`, Total{}, false)
	f(`{"key":"k","type":"VIEW","size":99999999999999999999}`, Total{}, false)
	f(`{"key":"k","type":"VIEW","size":60000,"closed":1}`, Total{}, false)
	f(`{"key":"k","type":"VIEW","size":60000,"sum":"1"}`, Total{}, false)
	f("{\"key\":\"k\x01\",\"type\":\"VIEW\",\"size\":60000}", Total{}, false)
	f(`[1]`, Total{}, false)
}

// randomTotal draws totals with awkward strings and floats.
func randomTotal(rng *rand.Rand) Total {
	pieces := []string{"a", "video42", "é", "日本", `"`, `\`, "<", ">", "&", "\u2028", "\x00", "\x1f", "\xff", "\xe2\x82", " ", "=", ",", "\x7f", "\U0001F600"}
	str := func(n int) string {
		var b strings.Builder
		for range rng.IntN(n + 1) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	floats := []float64{0, 1, -1, 0.1, 1e-6, 9.99e-7, 1e21, 9.99e20, 1e-320, math.MaxFloat64, -math.SmallestNonzeroFloat64, 123456.789, 1 << 53}
	fl := func() float64 {
		switch rng.IntN(3) {
		case 0:
			return floats[rng.IntN(len(floats))]
		case 1:
			return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(60)-30))
		}
		return float64(rng.IntN(1_000_000))
	}
	ints := func() int64 {
		switch rng.IntN(3) {
		case 0:
			return rng.Int64() - rng.Int64()
		case 1:
			return int64(rng.IntN(1000))
		}
		return []int64{0, -1, math.MaxInt64, math.MinInt64, 1e17, 1e18, -1e18}[rng.IntN(7)]
	}
	return Total{Key: str(6), Type: str(2), DimSet: str(3), Sub: int(ints()), Start: ints(), Size: ints(), Count: ints(),
		Sum: fl(), Min: fl(), Max: fl(), Closed: rng.IntN(2) == 0}
}

// TestCodecProperty checks, on random totals, that AppendJSON writes what
// encoding/json writes and that Unmarshal reads it back as encoding/json
// does.
func TestCodecProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20_000 {
		tt := randomTotal(rng)
		want := refMarshal(t, tt)
		got := mustMarshal(t, tt)
		if !bytes.Equal(got, want) {
			t.Fatalf("Marshal(%+v)\ngot  %s\nwant %s", tt, got, want)
		}
		checkDecode(t, got)
	}
}

// checkDecode checks Unmarshal(b) against encoding/json.
func checkDecode(t *testing.T, b []byte) {
	t.Helper()
	got, err := Unmarshal(b)
	ref, refOK := refUnmarshal(b)
	if (err == nil) != refOK {
		t.Fatalf("Unmarshal(%q): err %v, encoding/json ok %v", b, err, refOK)
	}
	if refOK && !reflect.DeepEqual(got, ref) {
		t.Fatalf("Unmarshal(%q)\ngot  %+v\nwant %+v", b, got, ref)
	}
}

// FuzzUnmarshal checks that Unmarshal accepts and rejects what
// encoding/json does, and decodes the same total.
func FuzzUnmarshal(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		tt := randomTotal(rng)
		f.Add(mustMarshal(f, tt))
	}
	f.Add([]byte(`{"key":"k","type":"VIEW","dims":"a=b","sub":1,"start":0,"size":60000,"count":2,"sum":3.5,"min":1,"max":2.5,"closed":true}`))
	f.Add([]byte(` {"size":1,"key":"\u00e9","Type":"x","extra":null} `))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, b)
	})
}

// FuzzMarshal checks AppendJSON against encoding/json on fuzzed fields.
func FuzzMarshal(f *testing.F) {
	f.Add("k", "VIEW", "country=US", 1, int64(2), int64(3), int64(4), 1.5, -2.0, 1e21, true)
	f.Fuzz(func(t *testing.T, key, typ, dims string, sub int, start, size, count int64, sum, mn, mx float64, closed bool) {
		tt := Total{Key: key, Type: typ, DimSet: dims, Sub: sub, Start: start, Size: size, Count: count, Sum: sum, Min: mn, Max: mx, Closed: closed}
		want, err := json.Marshal(tt)
		got, gerr := tt.Marshal()
		if (err != nil) != (gerr != nil) {
			t.Fatalf("Marshal(%+v) = %v; encoding/json says %v", tt, gerr, err)
		}
		if err != nil {
			return // non-finite floats: both refuse them
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
		checkDecode(t, got)
	})
}

func TestUnmarshalAllocs(t *testing.T) {
	tt := Total{Key: "video123", Type: "VIEW", DimSet: "country=US", Sub: 3, Start: 1767225600000, Size: 60000, Count: 42, Sum: 123.5, Min: 1, Max: 60}
	b := mustMarshal(t, tt)
	var got Total
	allocs := testing.AllocsPerRun(100, func() { got, _ = Unmarshal(b) })
	if got != tt {
		t.Fatalf("got %+v want %+v", got, tt)
	}
	if allocs > 1 {
		t.Fatalf("Unmarshal: %v allocations, want at most 1", allocs)
	}
	buf := make([]byte, 0, 256)
	if a := testing.AllocsPerRun(100, func() { buf, _ = tt.AppendJSON(buf[:0]) }); a != 0 {
		t.Fatalf("AppendJSON: %v allocations, want 0", a)
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	tt := Total{Key: "video123", Type: "VIEW", DimSet: "country=US", Sub: 3, Start: 1767225600000, Size: 60000, Count: 42, Sum: 123.5, Min: 1, Max: 60}
	rec := mustMarshal(b, tt)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Unmarshal(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var t Total
			if err := json.Unmarshal(rec, &t); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAppendJSON(b *testing.B) {
	tt := Total{Key: "video123", Type: "VIEW", DimSet: "country=US", Sub: 3, Start: 1767225600000, Size: 60000, Count: 42, Sum: 123.5, Min: 1, Max: 60}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = tt.AppendJSON(buf[:0])
	}
}

func mustMarshal(tb testing.TB, tt Total) []byte {
	tb.Helper()
	b, err := tt.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestMarshalNotFinite: a total whose sum overflowed (1e308 twice) is never
// encoded as 0 (issue 12, F3): the encoder fails.
func TestMarshalNotFinite(t *testing.T) {
	var tt Total
	tt = Total{Key: "k", Type: "VIEW", Size: 60000}
	tt.Add(1e308)
	tt.Add(1e308)
	for _, c := range []Total{tt, {Key: "k", Min: math.NaN()}, {Key: "k", Max: math.Inf(-1)}} {
		b, err := c.Marshal()
		if !errors.Is(err, ErrNotFinite) || b != nil {
			t.Fatalf("Marshal(%+v) = %s, %v; want ErrNotFinite", c, b, err)
		}
		if b, err := c.AppendJSON([]byte("x")); err == nil || string(b) != "x" {
			t.Fatalf("AppendJSON(%+v) = %s, %v; want x and an error", c, b, err)
		}
	}
}
