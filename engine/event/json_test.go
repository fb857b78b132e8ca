package event

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/bits"
	"strings"
	"testing"
)

const exampleJSON = `{"id":"e-1","key":"video-42","type":"VIEW","value":1,"ts":"2026-11-23T15:21:17Z","dims":{"country":"US"}}`

func exampleEvent() Event {
	return Event{ID: "e-1", Key: "video-42", Type: "VIEW", Value: 1, TS: 1795447277000, Dims: []Dim{{"country", "US"}}}
}

func TestDecodeJSON(t *testing.T) {
	f := func(in string, want Event) {
		t.Helper()
		var got Event
		if err := DecodeJSON([]byte(in), &got); err != nil {
			t.Fatalf("DecodeJSON(%s): %v", in, err)
		}
		if !sameEvent(&got, &want) {
			t.Fatalf("DecodeJSON(%s):\n got %s\nwant %s", in, describe(&got), describe(&want))
		}
		checkDecodeJSON(t, []byte(in))
	}
	f(exampleJSON, exampleEvent())
	base := Event{ID: "a", Key: "k", Type: "VIEW", Value: 1, TS: 1795447277000}
	with := func(mod func(e *Event)) Event { e := base; mod(&e); return e }
	// ts forms
	f(`{"id":"a","key":"k","type":"VIEW","ts":1795447277000}`, base)
	f(`{"id":"a","key":"k","type":"VIEW","ts":"2026-11-23T15:21:17.123456789Z"}`, with(func(e *Event) { e.TS += 123 }))
	f(`{"id":"a","key":"k","type":"VIEW","ts":"2026-11-23T15:21:17.1Z"}`, with(func(e *Event) { e.TS += 100 }))
	f(`{"id":"a","key":"k","type":"VIEW","ts":"2026-11-23T16:21:17+01:00"}`, base)
	f(`{"id":"a","key":"k","type":"VIEW","ts":"2026-11-23T10:51:17.999-04:30"}`, with(func(e *Event) { e.TS += 999 }))
	f(`{"id":"a","key":"k","type":"VIEW","ts":-5}`, with(func(e *Event) { e.TS = -5 }))
	f(`{"id":"a","key":"k","type":"VIEW","ts":"1969-12-31T23:59:59.5Z"}`, with(func(e *Event) { e.TS = -500 }))
	// value
	f(`{"id":"a","key":"k","type":"VIEW","ts":1795447277000,"value":2.5}`, with(func(e *Event) { e.Value = 2.5 }))
	f(`{"id":"a","key":"k","type":"VIEW","ts":1795447277000,"value":-0}`, with(func(e *Event) { e.Value = math.Copysign(0, -1) }))
	f(`{"id":"a","key":"k","type":"VIEW","ts":1795447277000,"value":1e3}`, with(func(e *Event) { e.Value = 1000 }))
	f(`{"id":"a","key":"k","type":"VIEW","ts":1795447277000,"value":12345678901234567890}`, with(func(e *Event) { e.Value = 12345678901234567890 }))
	f(`{"id":"a","key":"k","type":"VIEW","ts":1795447277000,"value":-999999999999999}`, with(func(e *Event) { e.Value = -999999999999999 }))
	// null is absent
	f(`{"id":"a","key":"k","type":"VIEW","ts":1795447277000,"value":null,"dims":null}`, base)
	f(`{"id":null,"key":"k","type":"VIEW","ts":null}`, with(func(e *Event) { e.ID, e.TS = "", 0 }))
	// order, whitespace, empty
	f(" \t\r\n{ \"ts\" : 1795447277000 , \"type\":\"VIEW\",\n\"key\":\"k\",\"id\":\"a\" }\n", base)
	f(`{}`, Event{Value: 1})
	f(`{"dims":{}}`, Event{Value: 1})
	// dims come back sorted
	f(`{"dims":{"z":"1","a":"2","m":"3"}}`, Event{Value: 1, Dims: []Dim{{"a", "2"}, {"m", "3"}, {"z", "1"}}})
	// escapes
	f(`{"id":"\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC\ud83d\ude00"}`, Event{Value: 1, ID: "\"\\/\b\f\n\r\t" + "Aé€😀"})
	f(`{"i\u0064":"a"}`, Event{Value: 1, ID: "a"}) // escaped field name
	f(`{"dims":{"c\u006funtry":"U\u0053"}}`, Event{Value: 1, Dims: []Dim{{"country", "US"}}})
}

func TestDecodeJSONErrors(t *testing.T) {
	f := func(in, wantField, wantReason string) {
		t.Helper()
		var e Event
		err := DecodeJSON([]byte(in), &e)
		var ee *Error
		if !errors.As(err, &ee) {
			t.Fatalf("DecodeJSON(%s) = %v, want an *Error", in, err)
		}
		if ee.Field != wantField || !strings.Contains(ee.Reason, wantReason) {
			t.Fatalf("DecodeJSON(%s) = %q, want field %q and reason containing %q", in, err, wantField, wantReason)
		}
		if want := codeOf(wantField, wantReason); ee.Code != want {
			t.Fatalf("DecodeJSON(%s) = %q, code %q, want %q", in, err, ee.Code, want)
		}
		checkDecodeJSON(t, []byte(in))
	}
	f(``, "json", "unexpected end of input")
	f(`   `, "json", "unexpected end of input")
	f(`{`, "json", "unexpected end of input")
	f(`{"id":"a"`, "json", "unexpected end of input")
	f(`{"id":"a`, "json", "unexpected end of input")
	f(`{"id":"a",}`, "json", "invalid character '}'")
	f(`{"id":"a"}x`, "json", "expected the end of input")
	f(`{"id":"a"}{}`, "json", "expected the end of input")
	f(`{"id" "a"}`, "json", "expected ':'")
	f(`{id:"a"}`, "json", "field name")
	f(`{'id':"a"}`, "json", "field name")
	f(`[]`, "event", "must be a JSON object")
	f(`"x"`, "event", "must be a JSON object")
	f(`nul`, "event", "must be a JSON object")
	f(`{"foo":1}`, "foo", "unknown field")
	f(`{"ID":"a"}`, "ID", "unknown field (the fields are id, key, type, value, ts, dims); field names are lower case: id")
	f(`{"f o":1}`, "json", `unknown field "f o"`)
	f(`{"id":"a","id":"b"}`, "id", "given twice")
	f(`{"value":null,"value":2}`, "value", "given twice")
	f(`{"key":"k","type":"VIEW","ts":1,"id":1}`, "id", "must be a JSON string")
	f(`{"id":"a","type":"VIEW","ts":1,"key":true}`, "key", "must be a JSON string")
	f(`{"id":"a","key":"k","ts":1,"type":["VIEW"]}`, "type", "must be a JSON string")
	f(`{"id":"a","key":"k","type":"VIEW","ts":1,"value":"1"}`, "value", "must be a JSON number")
	f(`{"id":"a","key":"k","type":"VIEW","ts":1,"value":1e999}`, "value", "out of range")
	f(`{"value":01}`, "json", "invalid character '1'")
	f(`{"value":1.}`, "json", "a digit after '.'")
	f(`{"value":-}`, "json", "a digit")
	f(`{"value":1e}`, "json", "exponent")
	f(`{"id":"a","key":"k","type":"VIEW","ts":1,"value":+1}`, "json", "expected a JSON value")
	f(`{"id":"a","key":"k","type":"VIEW","ts":1,"value":NaN}`, "json", "expected a JSON value")
	f(`{"id":"a","key":"k","type":"VIEW","ts":"yesterday"}`, "ts", "not RFC3339 or unix milliseconds")
	f(`{"id":"a","key":"k","type":"VIEW","ts":"2026-11-23 15:21:17Z"}`, "ts", "not RFC3339")
	f(`{"id":"a","key":"k","type":"VIEW","ts":"2026-11-23T15:21:17"}`, "ts", "not RFC3339")
	f(`{"id":"a","key":"k","type":"VIEW","ts":"2026-02-29T15:21:17Z"}`, "ts", "not RFC3339")
	f(`{"id":"a","key":"k","type":"VIEW","ts":"2026-11-23T24:00:00Z"}`, "ts", "not RFC3339")
	f(`{"id":"a","key":"k","type":"VIEW","ts":"2026-11-23T15:21:17.Z"}`, "ts", "not RFC3339")
	f(`{"id":"a","key":"k","type":"VIEW","ts":"2026-11-23T15:21:17+0100"}`, "ts", "not RFC3339")
	f(`{"id":"a","key":"k","type":"VIEW","ts":1.5}`, "ts", "not RFC3339")
	f(`{"id":"a","key":"k","type":"VIEW","ts":1e12}`, "ts", "not RFC3339")
	f(`{"id":"a","key":"k","type":"VIEW","ts":99999999999999999999}`, "ts", "not RFC3339")
	f(`{"id":"a","key":"k","type":"VIEW","ts":true}`, "ts", "not RFC3339")
	f(`{"id":"a","key":"k","type":"VIEW","ts":{"a":[1,2]}}`, "ts", "not RFC3339")
	f(`{"ts":[1,}`, "json", "invalid character '}'")
	f(`{"id":"a","key":"k","type":"VIEW","ts":1,"dims":[]}`, "dims", "must be a JSON object")
	f(`{"id":"a","key":"k","type":"VIEW","ts":1,"dims":{"a":1}}`, "dims.a", "must have a JSON string value")
	f(`{"id":"a","key":"k","type":"VIEW","ts":1,"dims":{"a":null}}`, "dims.a", "must have a JSON string value")
	f(`{"dims":{"a":"1","b":"2","a":"3"}}`, "dims.a", "given twice")
	f(`{"dims":{"a":"1",}}`, "json", "invalid character '}'")
	f(`{"dims":{"a" "1"}}`, "json", "expected ':'")
	f("{\"id\":\"a\nb\"}", "json", "control character 0x0a")
	f(`{"id":"\x"}`, "json", "invalid escape")
	// Not UTF-8, or a lone surrogate: refused, never rewritten (F2).
	f("{\"id\":\"a\xffb\xc3\"}", "json", "invalid UTF-8")
	f("{\"id\":\"u-\xff\",\"key\":\"k\",\"type\":\"VIEW\",\"ts\":1}", "json", "invalid UTF-8")
	f(`{"id":"\ud800x"}`, "json", "lone surrogate at byte 7")
	f(`{"id":"a\udc00"}`, "json", "lone surrogate at byte 8")
	f(`{"id":"\ud800\u0041"}`, "json", "lone surrogate")
	f("{\"key\":\"bi-\xff\xfe\"}", "json", "invalid UTF-8")
	f("{\"dims\":{\"a\xff\":\"1\"}}", "json", "invalid UTF-8")
	f("{\"dims\":{\"a\":\"\xc3\"}}", "json", "invalid UTF-8")
	f("{\"foo\":\"\xff\"}", "json", "invalid UTF-8")
	// The contract's order, whatever the order of the members: syntax,
	// then UTF-8, then unknown and duplicate members, then missing ones,
	// then members of the wrong JSON type.
	f("{\"foo\":1,\"id\":\"\xff\"", "json", "unexpected end of input")
	f("{\"foo\":1,\"id\":\"\xff\"}", "json", "invalid UTF-8")
	f("{\"value\":\"x\",\"id\":\"\xff\"}", "json", "invalid UTF-8")
	f(`{"value":"x","foo":1}`, "foo", "unknown field")
	f(`{"value":"x","value":2}`, "value", "given twice")
	// A member of the wrong JSON type: the decoder's error names the
	// first of them; Validator.ValidateDecodedAt puts each at its field's
	// place (TestContractCodes).
	f(`{"value":"x","id":"a","key":"k","type":"VIEW"}`, "value", "must be a JSON number")
	f(`{"value":"x","id":null,"key":"k","type":"VIEW","ts":1}`, "value", "must be a JSON number")
	f(`{"dims":[],"value":"x","id":"a","key":"k","type":"VIEW","ts":1}`, "value", "must be a JSON number")
	f(`{"dims":{"a":1},"ts":true,"id":"a","key":"k","type":"VIEW"}`, "ts", "not RFC3339")
	f(`{"type":1,"key":2,"id":"a","ts":1}`, "key", "must be a JSON string")
	f(`{"id":"\u12"}`, "json", `invalid \u escape`)
	f(`{"id":"\ud800\u12"}`, "json", `invalid \u escape`)
	f(`{"id":"\`, "json", "unexpected end of input")
}

// codeOf is the reason code of a decode error about field with reason.
func codeOf(field, reason string) string {
	switch {
	case strings.Contains(reason, "unknown field"):
		return CodeFieldUnknown
	case strings.Contains(reason, "given twice"):
		return CodeFieldDuplicate
	case strings.Contains(reason, "missing"):
		return CodeFieldMissing
	case strings.Contains(reason, "UTF-8"), strings.Contains(reason, "lone surrogate"):
		return CodeUTF8
	case field == "json", field == "event", field == "batch", field == "proto":
		return CodeSyntax
	case field == "ts":
		return CodeTSRange
	case strings.HasPrefix(field, "dims"):
		return CodeDims
	}
	return field
}

func TestDecodeJSONReuse(t *testing.T) {
	e := Event{ID: "old", Value: 7, TS: 9, Dims: make([]Dim, 3, 8)}
	if err := DecodeJSON([]byte(`{"id":"a","dims":{"x":"1"}}`), &e); err != nil {
		t.Fatal(err)
	}
	want := Event{ID: "a", Value: 1, Dims: []Dim{{"x", "1"}}}
	if !sameEvent(&e, &want) || cap(e.Dims) != 8 {
		t.Fatalf("got %s cap %d, want %s reusing cap 8", describe(&e), cap(e.Dims), describe(&want))
	}
	// The decoded strings do not refer to the input.
	in := []byte(`{"id":"abc"}`)
	if err := DecodeJSON(in, &e); err != nil {
		t.Fatal(err)
	}
	copy(in, strings.Repeat("x", len(in)))
	if e.ID != "abc" {
		t.Fatalf("ID changed with the input: %q", e.ID)
	}
}

func TestAppendJSON(t *testing.T) {
	f := func(e Event, want string) {
		t.Helper()
		got := string(AppendJSON(nil, &e))
		if got != want {
			t.Fatalf("AppendJSON(%s)\n = %s\nwant %s", describe(&e), got, want)
		}
		if !json.Valid([]byte(got)) {
			t.Fatalf("AppendJSON(%s) = %s: not valid JSON", describe(&e), got)
		}
	}
	f(exampleEvent(), exampleJSON)
	f(Event{ID: "a", Key: "k", Type: "T", Value: 2.5, TS: 1795447277123},
		`{"id":"a","key":"k","type":"T","value":2.5,"ts":"2026-11-23T15:21:17.123Z"}`)
	f(Event{Value: 0, TS: -1}, `{"id":"","key":"","type":"","value":0,"ts":-1}`)
	f(Event{Value: 1e21, TS: maxRFC3339TS}, `{"id":"","key":"","type":"","value":1e+21,"ts":"9999-12-31T23:59:59.999Z"}`)
	f(Event{Value: 1e-7, TS: maxRFC3339TS + 1}, `{"id":"","key":"","type":"","value":1e-7,"ts":253402300800000}`)
	f(Event{Value: math.NaN()}, `{"id":"","key":"","type":"","value":"NaN","ts":"1970-01-01T00:00:00Z"}`)
	f(Event{Value: math.Inf(-1)}, `{"id":"","key":"","type":"","value":"-Inf","ts":"1970-01-01T00:00:00Z"}`)
	f(Event{ID: "q\"b\\s/\n\r\t\x01\x7f é\xff", Value: 1},
		`{"id":"q\"b\\s/\n\r\t\u0001`+"\x7f é"+`\ufffd","key":"","type":"","value":1,"ts":"1970-01-01T00:00:00Z"}`)
	// Appends, does not overwrite.
	if got := string(AppendJSON([]byte("x"), &Event{Value: 1})); !strings.HasPrefix(got, `x{"id"`) {
		t.Fatalf("AppendJSON did not append: %s", got)
	}
}

func TestAppendJSONMatchesStdlibFloats(t *testing.T) {
	for _, v := range []float64{0, 1, -1, 0.1, 1.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, -3.25e-10, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		want, _ := json.Marshal(v)
		if got := appendJSONFloat(nil, v); string(got) != string(want) {
			t.Errorf("appendJSONFloat(%v) = %s, encoding/json %s", v, got, want)
		}
	}
}

func TestSpecialBytes(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }
	for c := range 256 {
		for pos := range 8 {
			var w [8]byte
			for k := range w {
				w[k] = 'a'
			}
			w[pos] = byte(c)
			m := specialBytes(binary.LittleEndian.Uint64(w[:]))
			if plain(byte(c)) != (m == 0) || m != 0 && bits.TrailingZeros64(m)>>3 != pos {
				t.Fatalf("specialBytes(%q) = %#x", w, m)
			}
		}
	}
}
