package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/countlab/countlab/engine/event/eventpb"
)

// References the hand-written codecs are checked against: encoding/json
// (into the equivalent struct), time.Parse, and the generated protobuf
// type with the protobuf library.

// refEvent is the struct encoding/json decodes the JSON form into.
type refEvent struct {
	ID    string            `json:"id"`
	Key   string            `json:"key"`
	Type  string            `json:"type"`
	Value *float64          `json:"value"`
	TS    json.RawMessage   `json:"ts"`
	Dims  map[string]string `json:"dims"`
}

// stdDecodeJSON decodes b with encoding/json into refEvent (unknown fields
// disallowed) and converts it to an Event.
func stdDecodeJSON(b []byte) (Event, error) {
	if !json.Valid(b) {
		return Event{}, errors.New("invalid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r refEvent
	if err := dec.Decode(&r); err != nil {
		return Event{}, err
	}
	e := Event{ID: r.ID, Key: r.Key, Type: r.Type, Value: 1}
	if r.Value != nil {
		e.Value = *r.Value
	}
	switch {
	case len(r.TS) == 0 || string(r.TS) == "null":
	case r.TS[0] == '"':
		var s string
		if err := json.Unmarshal(r.TS, &s); err != nil {
			return Event{}, err
		}
		t, err := time.Parse(time.RFC3339Nano, upperTZ(s))
		if err != nil {
			return Event{}, err
		}
		e.TS = t.UnixMilli()
	default:
		ts, err := strconv.ParseInt(string(r.TS), 10, 64)
		if err != nil {
			return Event{}, err
		}
		e.TS = ts
	}
	e.Dims = mapDims(r.Dims)
	return e, nil
}

func mapDims(m map[string]string) []Dim {
	var dims []Dim
	for k, v := range m {
		dims = append(dims, Dim{k, v})
	}
	sort.Slice(dims, func(i, j int) bool { return dims[i].Name < dims[j].Name })
	return dims
}

var (
	strictRFC3339 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-](([01]\d|2[0-3]):[0-5]\d))$`)
	intLiteral    = regexp.MustCompile(`^-?(0|[1-9]\d*)$`)
)

// strictOK reports whether the JSON event b, which encoding/json accepts,
// is also within the stricter rules of DecodeJSON: exact lower-case field
// names given once, dimension names given once with string values, ts
// strict RFC 3339 or an integer.
func strictOK(b []byte) bool {
	if !stringsUTF8(b) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		name := tok.(string)
		if seen[name] {
			return false
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return false
		}
		switch name {
		case "id", "key", "type", "value":
		case "ts":
			if raw[0] == '"' {
				var s string
				if json.Unmarshal(raw, &s) != nil || !strictRFC3339.MatchString(s) {
					return false
				}
			} else if string(raw) != "null" && !intLiteral.Match(raw) {
				return false
			}
		case "dims":
			if string(raw) != "null" && !strictDims(raw) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// stringsUTF8 reports whether the valid JSON text b is UTF-8 and has no
// \u escape of a lone surrogate (which encoding/json rewrites to U+FFFD).
func stringsUTF8(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	hex := func(i int) rune {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return -1
		}
		r, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		if err != nil {
			return -1
		}
		return rune(r)
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r := hex(i)
		switch {
		case r >= 0xD800 && r < 0xDC00:
			if r2 := hex(i + 6); r2 < 0xDC00 || r2 > 0xDFFF {
				return false
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return false
		default:
			i++ // the escaped byte, or 'u' of another escape
		}
	}
	return true
}

func strictDims(raw []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		name := tok.(string)
		if seen[name] {
			return false
		}
		seen[name] = true
		tok, err = dec.Token()
		if _, ok := tok.(string); err != nil || !ok {
			return false
		}
	}
	return true
}

// fromPB converts the generated message to an Event as DecodeProto should.
func fromPB(m *eventpb.Event) Event {
	e := Event{ID: m.GetId(), Key: m.GetKey(), Type: m.GetType(), Value: 1, TS: m.GetTsMs()}
	if m.Value != nil {
		e.Value = *m.Value
	}
	e.Dims = mapDims(m.GetDims())
	return e
}

// toPB converts e to the generated message as AppendProto encodes it.
func toPB(e *Event) *eventpb.Event {
	m := &eventpb.Event{Id: e.ID, Key: e.Key, Type: e.Type, TsMs: e.TS}
	if math.Float64bits(e.Value) != math.Float64bits(1) {
		m.Value = proto.Float64(e.Value)
	}
	if len(e.Dims) > 0 {
		m.Dims = map[string]string{}
		for _, d := range e.Dims {
			m.Dims[d.Name] = d.Value
		}
	}
	return m
}

// sameEvent reports whether a and b are equal, comparing Value bit by bit
// and treating nil and empty Dims alike.
func sameEvent(a, b *Event) bool {
	if a.ID != b.ID || a.Key != b.Key || a.Type != b.Type || a.TS != b.TS ||
		math.Float64bits(a.Value) != math.Float64bits(b.Value) && !(math.IsNaN(a.Value) && math.IsNaN(b.Value)) ||
		len(a.Dims) != len(b.Dims) {
		return false
	}
	for i := range a.Dims {
		if a.Dims[i] != b.Dims[i] {
			return false
		}
	}
	return true
}

func describe(e *Event) string {
	return fmt.Sprintf("{ID:%q Key:%q Type:%q Value:%v(%#x) TS:%d Dims:%q}", e.ID, e.Key, e.Type, e.Value, math.Float64bits(e.Value), e.TS, e.Dims)
}

// checkDecodeJSON checks DecodeJSON on b against encoding/json and, when it
// decodes, the round trips through both encodings.
func checkDecodeJSON(t *testing.T, b []byte) {
	t.Helper()
	var got Event
	err := DecodeJSON(b, &got)
	want, stdErr := stdDecodeJSON(b)
	switch {
	case err == nil && stdErr != nil:
		t.Fatalf("DecodeJSON(%q) accepts what encoding/json rejects (%v): %s", b, stdErr, describe(&got))
	case err == nil && !sameEvent(&got, &want):
		t.Fatalf("DecodeJSON(%q):\n got %s\nwant %s (encoding/json)", b, describe(&got), describe(&want))
	case err != nil && stdErr == nil && strictOK(b):
		t.Fatalf("DecodeJSON(%q) = %v; encoding/json accepts it as %s", b, err, describe(&want))
	case err != nil:
		var ee *Error
		if !errors.As(err, &ee) {
			t.Fatalf("DecodeJSON(%q) error %T %v is not an *Error", b, err, err)
		}
		return
	}
	checkRoundTrips(t, &got)
}

// checkRoundTrips checks that e survives AppendJSON+DecodeJSON (when its
// value is finite) and AppendProto+DecodeProto, and that AppendProto agrees
// with the protobuf library.
func checkRoundTrips(t *testing.T, e *Event) {
	t.Helper()
	var back Event
	if !math.IsNaN(e.Value) && !math.IsInf(e.Value, 0) {
		j := AppendJSON(nil, e)
		if err := DecodeJSON(j, &back); err != nil || !sameEvent(e, &back) {
			t.Fatalf("JSON round trip of %s via %s: %s, %v", describe(e), j, describe(&back), err)
		}
		if !json.Valid(j) {
			t.Fatalf("AppendJSON(%s) = %s is not valid JSON", describe(e), j)
		}
	}
	p := AppendProto(nil, e)
	if err := DecodeProto(p, &back); err != nil || !sameEvent(e, &back) {
		t.Fatalf("proto round trip of %s via %x: %s, %v", describe(e), p, describe(&back), err)
	}
	if len(p) != sizeProto(e) {
		t.Fatalf("sizeProto(%s) = %d, AppendProto wrote %d bytes", describe(e), sizeProto(e), len(p))
	}
	var m eventpb.Event
	if err := proto.Unmarshal(p, &m); err != nil {
		t.Fatalf("proto.Unmarshal(AppendProto(%s)): %v", describe(e), err)
	}
	if !proto.Equal(&m, toPB(e)) {
		t.Fatalf("AppendProto(%s) unmarshals to %v, want %v", describe(e), &m, toPB(e))
	}
	// Deterministic marshaling sorts map entries by key, as Dims are.
	lib, err := proto.MarshalOptions{Deterministic: true}.Marshal(toPB(e))
	if err != nil || !bytes.Equal(lib, p) {
		t.Fatalf("AppendProto(%s) = %x, proto.Marshal = %x (%v)", describe(e), p, lib, err)
	}
}

// checkDecodeProto checks DecodeProto on b against proto.Unmarshal and,
// when it decodes, the round trips.
func checkDecodeProto(t *testing.T, b []byte) {
	t.Helper()
	var got Event
	err := DecodeProto(b, &got)
	var m eventpb.Event
	libErr := proto.Unmarshal(b, &m)
	switch {
	case err == nil && libErr != nil:
		t.Fatalf("DecodeProto(%x) accepts what proto.Unmarshal rejects (%v): %s", b, libErr, describe(&got))
	case err == nil:
		if want := fromPB(&m); !sameEvent(&got, &want) {
			t.Fatalf("DecodeProto(%x):\n got %s\nwant %s (proto.Unmarshal)", b, describe(&got), describe(&want))
		}
	case libErr == nil:
		// The library takes a known field with the wrong wire type as an
		// unknown field; DecodeProto rejects it. Nothing else may differ.
		var ee *Error
		if !errors.As(err, &ee) || !bytes.Contains([]byte(ee.Reason), []byte("wire type")) {
			t.Fatalf("DecodeProto(%x) = %v; proto.Unmarshal accepts it as %v", b, err, &m)
		}
		return
	default:
		var ee *Error
		if !errors.As(err, &ee) {
			t.Fatalf("DecodeProto(%x) error %T %v is not an *Error", b, err, err)
		}
		return
	}
	checkRoundTrips(t, &got)
}
