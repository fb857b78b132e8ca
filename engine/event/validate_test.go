package event

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	good := exampleEvent()
	if err := v.Validate(&good); err != nil {
		t.Fatalf("Validate(example) = %v", err)
	}
	f := func(v *Validator, mod func(e *Event), wantErr string) {
		t.Helper()
		e := exampleEvent()
		e.Dims = append([]Dim(nil), e.Dims...)
		mod(&e)
		err := v.Validate(&e)
		if wantErr == "" {
			if err != nil {
				t.Fatalf("Validate(%s) = %v", describe(&e), err)
			}
			return
		}
		var ee *Error
		if !errors.As(err, &ee) || !strings.HasPrefix(err.Error(), wantErr) {
			t.Fatalf("Validate(%s) = %v, want an *Error starting %q", describe(&e), err, wantErr)
		}
	}
	f(v, func(e *Event) { e.ID = "" }, "id: missing")
	f(v, func(e *Event) { e.ID = strings.Repeat("x", 128) }, "")
	f(v, func(e *Event) { e.ID = strings.Repeat("x", 129) }, "id: 129 bytes, longer than the 128 allowed")
	f(v, func(e *Event) { e.ID = "a\nb" }, "") // ids may hold anything but invalid UTF-8
	f(v, func(e *Event) { e.ID = "a\xffb" }, "id: not valid UTF-8")
	f(v, func(e *Event) { e.Key = "" }, "key: missing")
	f(v, func(e *Event) { e.Key = strings.Repeat("k", 256) }, "")
	f(v, func(e *Event) { e.Key = strings.Repeat("k", 257) }, "key: 257 bytes")
	f(v, func(e *Event) { e.Key = "a\tb" }, "key: control character U+0009 at byte 1")
	f(v, func(e *Event) { e.Key = "a\x7f" }, "key: control character U+007F")
	f(v, func(e *Event) { e.Key = "é\u0085" }, "key: control character U+0085 at byte 2")
	f(v, func(e *Event) { e.Key = "https://example.com/vidéo?a=b,c|d" }, "")
	f(v, func(e *Event) { e.Type = "" }, "type: missing")
	f(v, func(e *Event) { e.Type = "view" }, `type: "view" is not an accepted type`)
	for _, typ := range DefaultTypes {
		f(v, func(e *Event) { e.Type = typ }, "")
	}
	f(v, func(e *Event) { e.Value = math.NaN() }, "value: NaN is not a finite number")
	f(v, func(e *Event) { e.Value = math.Inf(-1) }, "value: -Inf is not a finite number")
	f(v, func(e *Event) { e.Value = -1 << 53 }, "")
	f(v, func(e *Event) { e.Value = 1 << 53 }, "")
	f(v, func(e *Event) { e.Value = -1e300 }, "value: -1e+300 is not a finite number within ±2^53")
	f(v, func(e *Event) { e.Value = 1<<53 + 2 }, "value: 9.007199254740994e+15 is not a finite number within ±2^53")
	f(v, func(e *Event) { e.TS = 0 }, "ts: missing")
	f(v, func(e *Event) { e.TS, e.TSNumber = 0, true }, "ts: 0 (1970-01-01T00:00:00Z) is not after 1970-01-01T00:00:00Z")
	f(v, func(e *Event) { e.TS = -1 }, "ts: -1 is not after")
	f(v, func(e *Event) { e.TS = 1 }, "")
	// The last one-minute window InfluxDB can store ends at 23:47:00.
	last := time.Date(2262, 4, 11, 23, 46, 59, 999e6, time.UTC).UnixMilli()
	f(v, func(e *Event) { e.TS = last }, "")
	f(v, func(e *Event) { e.TS = last + 1 }, "ts: "+strconv.FormatInt(last+1, 10)+" (2262-04-11T23:47:00Z) has a window ending after 2262-04-11T23:47:16Z")
	f(v, func(e *Event) { e.TS = math.MaxInt64 }, "ts: 9223372036854775807 has a window ending after")
	f(v, func(e *Event) { e.Key = `a\b` }, `key: '\' at byte 1; a key must not hold a backslash`)
	f(v, func(e *Event) { e.Key = `ab\` }, `key: '\' at byte 2`)
	f(v, func(e *Event) { e.Dims = nil }, "")
	f(v, func(e *Event) {
		e.Dims = nil
		for i := range 17 {
			e.Dims = append(e.Dims, Dim{"d" + strconv.Itoa(10+i), "v"})
		}
	}, "dims: 17 dimensions, more than the 16 allowed")
	f(v, func(e *Event) { e.Dims = []Dim{{strings.Repeat("n", 64), "v"}} }, "")
	f(v, func(e *Event) { e.Dims = []Dim{{strings.Repeat("n", 65), "v"}} }, `dims: name "nnn`)
	f(v, func(e *Event) { e.Dims = []Dim{{"", "v"}} }, `dims: name "" is not [A-Za-z0-9_]{1,64}`)
	f(v, func(e *Event) { e.Dims = []Dim{{"a-b", "v"}} }, `dims: name "a-b" is not`)
	f(v, func(e *Event) { e.Dims = []Dim{{"A_z9", "v"}} }, "")
	f(v, func(e *Event) { e.Dims = []Dim{{"a", "1"}, {"a", "2"}} }, "dims.a: dimension given twice")
	f(v, func(e *Event) { e.Dims = []Dim{{"b", "1"}, {"a", "2"}} }, `dims: not sorted by name ("a" after "b")`)
	f(v, func(e *Event) { e.Dims = []Dim{{"a", ""}} }, "dims.a: empty value")
	f(v, func(e *Event) { e.Dims = []Dim{{"a", strings.Repeat("v", 128)}} }, "")
	f(v, func(e *Event) { e.Dims = []Dim{{"a", strings.Repeat("v", 129)}} }, "dims.a: value 129 bytes")
	f(v, func(e *Event) { e.Dims = []Dim{{"a", `x\`}} }, `dims.a: value "x\\" has '\\'`)
	for _, c := range []string{",", "=", "|"} {
		f(v, func(e *Event) { e.Dims = []Dim{{"a", "x" + c + "y"}} }, `dims.a: value "x`+c+`y" has '`+c+`'; ',', '=' and '|' are reserved`)
	}
	f(v, func(e *Event) { e.Dims = []Dim{{"a", "x\ny"}} }, "dims.a: value has control character U+000A")
	f(v, func(e *Event) { e.Dims = []Dim{{"a", "\xff"}} }, `dims: dimension "a": not valid UTF-8`)
	f(v, func(e *Event) { e.Dims = []Dim{{"a", "São Paulo"}} }, "")

	// Options.
	custom, err := NewValidator(Types("PLAY", "STOP"), MaxIDLen(4), MaxKeyLen(3), MaxDims(1), MaxDimValueLen(2),
		WindowSizes(time.Minute, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	base := func(e *Event) { e.ID, e.Key, e.Type, e.TS = "abcd", "key", "PLAY", 1500 }
	then := func(mods ...func(e *Event)) func(e *Event) {
		return func(e *Event) {
			base(e)
			for _, m := range mods {
				m(e)
			}
		}
	}
	f(custom, then(), "")
	f(custom, then(func(e *Event) { e.Type = "VIEW" }), `type: "VIEW" is not an accepted type; want one of PLAY, STOP`)
	f(custom, then(func(e *Event) { e.ID = "abcde" }), "id: 5 bytes, longer than the 4 allowed")
	f(custom, then(func(e *Event) { e.Key = "keys" }), "key: 4 bytes")
	f(custom, then(func(e *Event) { e.Dims = []Dim{{"a", "1"}, {"b", "2"}} }), "dims: 2 dimensions, more than the 1 allowed")
	f(custom, then(func(e *Event) { e.Dims = []Dim{{"a", "123"}} }), "dims.a: value 3 bytes")
	lastHour := time.Date(2262, 4, 11, 22, 59, 59, 999e6, time.UTC).UnixMilli()
	f(custom, then(func(e *Event) { e.TS = lastHour }), "")
	f(custom, then(func(e *Event) { e.TS = lastHour + 1 }), "ts: "+strconv.FormatInt(lastHour+1, 10)+" (2262-04-11T23:00:00Z) has a window ending after")

	for _, opts := range [][]ValidatorOpt{
		{Types()}, {Types("A", "A")}, {Types("a b")}, {MaxIDLen(0)}, {MaxKeyLen(0)}, {MaxDims(-1)}, {MaxDimValueLen(0)},
		{MaxFutureSkew(-time.Second)}, {MaxAge(-time.Second)}, {WindowSizes()}, {WindowSizes(0)},
	} {
		if _, err := NewValidator(opts...); err == nil {
			t.Errorf("NewValidator with bad options succeeded")
		}
	}
	if _, err := NewValidator(MaxDims(0)); err != nil {
		t.Errorf("NewValidator(MaxDims(0)) = %v", err)
	}
}

// TestDecodedEventsValidate: what the decoders produce from good input
// passes a default Validator, in both encodings.
func TestDecodedEventsValidate(t *testing.T) {
	v, _ := NewValidator()
	var e Event
	if err := DecodeJSON([]byte(`{"id":"e","key":"k","type":"CLICK","ts":"2026-11-23T15:21:17.5Z","dims":{"z":"1","a":"2"}}`), &e); err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(&e); err != nil {
		t.Fatalf("Validate(%s) = %v", describe(&e), err)
	}
	if err := DecodeProto(AppendProto(nil, &e), &e); err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(&e); err != nil {
		t.Fatalf("Validate(%s) = %v", describe(&e), err)
	}
}
