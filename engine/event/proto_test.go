package event

import (
	"errors"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/countlab/countlab/engine/event/eventpb"
)

func TestProtoCrossCheck(t *testing.T) {
	// proto.Marshal -> DecodeProto, and AppendProto -> proto.Unmarshal
	// (checkDecodeProto does both, and compares the bytes).
	f := func(m *eventpb.Event) {
		t.Helper()
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var got Event
		if err := DecodeProto(b, &got); err != nil {
			t.Fatalf("DecodeProto(proto.Marshal(%v)): %v", m, err)
		}
		if want := fromPB(m); !sameEvent(&got, &want) {
			t.Fatalf("DecodeProto(proto.Marshal(%v)) = %s, want %s", m, describe(&got), describe(&want))
		}
		checkDecodeProto(t, b)
	}
	f(&eventpb.Event{})
	f(&eventpb.Event{Id: "e-1", Key: "video-42", Type: "VIEW", TsMs: 1795447277000, Dims: map[string]string{"country": "US"}})
	f(&eventpb.Event{Id: "e-1", Value: proto.Float64(0)})
	f(&eventpb.Event{Value: proto.Float64(1)})
	f(&eventpb.Event{Value: proto.Float64(math.Copysign(0, -1))})
	f(&eventpb.Event{Value: proto.Float64(math.Inf(1))})
	f(&eventpb.Event{Value: proto.Float64(math.NaN())})
	f(&eventpb.Event{TsMs: -1})
	f(&eventpb.Event{TsMs: math.MinInt64})
	f(&eventpb.Event{TsMs: math.MaxInt64})
	f(&eventpb.Event{Id: strings.Repeat("x", 300), Key: "é😀", Dims: map[string]string{"": "", "b": "", "z": "1", "a": "2", "m": strings.Repeat("y", 200)}})
	dims := map[string]string{}
	for i := range 40 {
		dims[strings.Repeat("d", i+1)] = "v"
	}
	f(&eventpb.Event{Id: "many", Dims: dims})
}

func TestDecodeProtoRules(t *testing.T) {
	ok := func(b []byte, want Event) {
		t.Helper()
		var got Event
		if err := DecodeProto(b, &got); err != nil {
			t.Fatalf("DecodeProto(%x): %v", b, err)
		}
		if !sameEvent(&got, &want) {
			t.Fatalf("DecodeProto(%x) = %s, want %s", b, describe(&got), describe(&want))
		}
		checkDecodeProto(t, b)
	}
	str := func(num protowire.Number, s string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, num, protowire.BytesType), s)
	}
	entry := func(k, v string) []byte { return append(str(1, k), str(2, v)...) }
	dim := func(k, v string) []byte { return str(6, string(entry(k, v))) }
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	// Unknown fields of every wire type are skipped.
	unknown := cat(
		protowire.AppendVarint(protowire.AppendTag(nil, 7, protowire.VarintType), 300),
		protowire.AppendFixed32(protowire.AppendTag(nil, 8, protowire.Fixed32Type), 1),
		protowire.AppendFixed64(protowire.AppendTag(nil, 9, protowire.Fixed64Type), 1),
		str(1000, "new field"),
		protowire.AppendTag(nil, 16, protowire.StartGroupType), str(1, "in group"), protowire.AppendTag(nil, 16, protowire.EndGroupType),
	)
	ok(cat(str(1, "a"), unknown, str(2, "k")), Event{ID: "a", Key: "k", Value: 1})
	// Unknown fields inside a dims entry too.
	ok(str(6, string(cat(unknown, entry("n", "v")))), Event{Value: 1, Dims: []Dim{{"n", "v"}}})
	// Last value wins, for scalars and for dimension names.
	ok(cat(str(1, "a"), str(1, "b"), str(6, string(entry("x", "1"))), dim("y", "2"), dim("x", "3")),
		Event{ID: "b", Value: 1, Dims: []Dim{{"x", "3"}, {"y", "2"}}})
	// A dims entry without key or value.
	ok(str(6, ""), Event{Value: 1, Dims: []Dim{{"", ""}}})
	// Big unknown field between strings: strings still right.
	ok(cat(str(1, "a"), str(99, strings.Repeat("z", 5000)), str(3, "VIEW")), Event{ID: "a", Type: "VIEW", Value: 1})

	bad := func(b []byte, wantField, wantReason string) {
		t.Helper()
		var e Event
		err := DecodeProto(b, &e)
		var ee *Error
		if !errors.As(err, &ee) || ee.Field != wantField || !strings.Contains(ee.Reason, wantReason) {
			t.Fatalf("DecodeProto(%x) = %v, want field %q and reason containing %q", b, err, wantField, wantReason)
		}
		checkDecodeProto(t, b)
	}
	bad([]byte{0x0a}, "proto", "truncated field id")
	bad([]byte{0x0a, 5, 'a'}, "proto", "truncated field id")
	bad([]byte{0x21, 1, 2}, "proto", "truncated field value")
	bad([]byte{0x28}, "proto", "truncated field ts")
	bad([]byte{0x28, 0xff}, "proto", "truncated field ts")
	bad([]byte{0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "proto", "truncated field ts")
	bad([]byte{0x00}, "proto", "invalid field tag")
	bad([]byte{0x80}, "proto", "invalid field tag")
	bad([]byte{0x3f}, "proto", "malformed unknown field 7") // wire type 7
	bad([]byte{0x3c}, "proto", "malformed unknown field 7") // stray end group
	bad([]byte{0x3b}, "proto", "malformed unknown field 7") // unterminated group
	bad([]byte{0x08, 1}, "id", "wrong protobuf wire type varint, want length-delimited")
	bad([]byte{0x25, 0, 0, 0, 0}, "value", "wrong protobuf wire type fixed32, want fixed64")
	bad(str(4, "x"), "value", "wrong protobuf wire type length-delimited")
	bad(str(5, "x"), "ts", "wrong protobuf wire type")
	bad([]byte{0x30, 1}, "dims", "wrong protobuf wire type varint")
	bad(str(6, "\x08\x01"), "dims", "wrong protobuf wire type")
	bad(str(6, "\x0a"), "proto", "truncated dims entry")
	bad(str(2, "a\xffb"), "key", "not valid UTF-8")
	bad(dim("\xff", "v"), "dims", "dimension name not valid UTF-8")
	bad(dim("n", "\xc3"), "dims", "dimension value not valid UTF-8")
}

func TestDecodeProtoReuse(t *testing.T) {
	b := AppendProto(nil, &Event{ID: "abc", Dims: []Dim{{"x", "1"}}})
	e := Event{ID: "old", Key: "old", TS: 5, Dims: make([]Dim, 0, 4)}
	if err := DecodeProto(b, &e); err != nil {
		t.Fatal(err)
	}
	want := Event{ID: "abc", Value: 0, Dims: []Dim{{"x", "1"}}}
	if !sameEvent(&e, &want) || cap(e.Dims) != 4 {
		t.Fatalf("got %s cap %d, want %s reusing cap 4", describe(&e), cap(e.Dims), describe(&want))
	}
	for i := range b {
		b[i] = 'z'
	}
	if e.ID != "abc" || e.Dims[0] != (Dim{"x", "1"}) {
		t.Fatalf("strings changed with the input: %s", describe(&e))
	}
}

// TestDecodeShared: a protobuf event's strings are the input's bytes (no
// copy: a change to the input shows in them), a JSON event's and a failed
// event's id and key are copies.
func TestDecodeShared(t *testing.T) {
	ex := exampleEvent()
	b := AppendProto(nil, &ex)
	var e Event
	if f, err := DecodeShared(b, &e); f != FormatProto || err != nil || !sameEvent(&e, &ex) {
		t.Fatalf("DecodeShared = %v, %v, %s; want %s", f, err, describe(&e), describe(&ex))
	}
	for i := range b {
		b[i] = 'z'
	}
	if e.ID != strings.Repeat("z", len(ex.ID)) || e.Key != strings.Repeat("z", len(ex.Key)) {
		t.Fatalf("strings do not share the input: id %q key %q", e.ID, e.Key)
	}

	j := []byte(exampleJSON)
	var je Event
	if f, err := DecodeShared(j, &je); f != FormatJSON || err != nil || !sameEvent(&je, &ex) {
		t.Fatalf("DecodeShared(JSON) = %v, %v, %s", f, err, describe(&je))
	}
	bad := AppendProto(nil, &Event{ID: "abc", Key: "k"})
	bad = append(bad, 0xff) // a truncated tag: an error with the id and key as sent
	if _, err := DecodeShared(bad, &e); err == nil || e.ID != "abc" || e.Key != "k" {
		t.Fatalf("DecodeShared(bad) = %v, id %q key %q", err, e.ID, e.Key)
	}
	for _, in := range [][]byte{j, bad} {
		for i := range in {
			in[i] = 'z'
		}
	}
	if !sameEvent(&je, &ex) {
		t.Fatalf("a JSON event changed with the input: %s", describe(&je))
	}
	if e.ID != "abc" || e.Key != "k" {
		t.Fatalf("a failed event's id and key changed with the input: %q %q", e.ID, e.Key)
	}
}

func TestAppendProto(t *testing.T) {
	e := exampleEvent()
	b := AppendProto(nil, &e)
	want := "\x0a\x03e-1\x12\x08video-42\x1a\x04VIEW\x28" + string(protowire.AppendVarint(nil, 1795447277000)) +
		"\x32\x0d\x0a\x07country\x12\x02US"
	if string(b) != want {
		t.Fatalf("AppendProto(example) = %q, want %q", b, want)
	}
	checkRoundTrips(t, &e)
	if b[0] == '{' {
		t.Fatal("a protobuf event starts with '{'")
	}
}
