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
	f(v, func(e *Event) { e.Type = "" }, "type: missing; want one of VIEW, LIKE, SHARE, CLICK, IMPRESSION, VISIT")
	f(v, func(e *Event) { e.Type = "view" }, `type: "view" is not an accepted type`)
	for _, typ := range DefaultTypes {
		f(v, func(e *Event) { e.Type = typ }, "")
	}
	f(v, func(e *Event) { e.Value = math.NaN() }, "value: NaN is not a finite number")
	f(v, func(e *Event) { e.Value = math.Inf(-1) }, "value: -Inf is not a finite number")
	f(v, func(e *Event) { e.Value = -1e300 }, "")
	f(v, func(e *Event) { e.TS = 0 }, "ts: missing")
	f(v, func(e *Event) { e.TS = -1 }, "ts: -1 (1969-12-31T23:59:59.999Z) is out of range")
	f(v, func(e *Event) { e.TS = 1 }, "")
	y3000 := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	f(v, func(e *Event) { e.TS = y3000 - 1 }, "")
	f(v, func(e *Event) { e.TS = y3000 }, "ts: "+strconv.FormatInt(y3000, 10)+" (3000-01-01T00:00:00Z) is out of range")
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
	for _, c := range []string{",", "=", "|"} {
		f(v, func(e *Event) { e.Dims = []Dim{{"a", "x" + c + "y"}} }, `dims.a: value "x`+c+`y" has '`+c+`'; ',', '=' and '|' are reserved`)
	}
	f(v, func(e *Event) { e.Dims = []Dim{{"a", "x\ny"}} }, "dims.a: value has control character U+000A")
	f(v, func(e *Event) { e.Dims = []Dim{{"a", "\xff"}} }, "dims.a: value not valid UTF-8")
	f(v, func(e *Event) { e.Dims = []Dim{{"a", "São Paulo"}} }, "")

	// Options.
	custom, err := NewValidator(Types("PLAY", "STOP"), MaxIDLen(4), MaxKeyLen(3), MaxDims(1), MaxDimValueLen(2),
		TSRange(time.UnixMilli(1000), time.UnixMilli(2000)))
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
	f(custom, then(func(e *Event) { e.TS = 1000 }), "ts: 1000 (1970-01-01T00:00:01Z) is out of range; want after 1970-01-01T00:00:01Z and before 1970-01-01T00:00:02Z")
	f(custom, then(func(e *Event) { e.TS = 1001 }), "")
	f(custom, then(func(e *Event) { e.TS = 2000 }), "ts: 2000")

	for _, opts := range [][]ValidatorOpt{
		{Types()}, {Types("A", "A")}, {Types("a b")}, {MaxIDLen(0)}, {MaxKeyLen(0)}, {MaxDims(-1)}, {MaxDimValueLen(0)},
		{TSRange(time.UnixMilli(5), time.UnixMilli(6))},
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
