package event

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/countlab/countlab/engine/event/eventpb"
)

// Fuzz targets. Run one with
//
//	go test -run=NONE -fuzz=FuzzDecodeJSON -fuzztime=60s ./engine/event/
//
// Inputs that once failed are kept in testdata/fuzz and run as tests.

var jsonSeeds = []string{
	exampleJSON,
	`{"id":"e-2","key":"ad-7","type":"CLICK","value":0.25,"ts":1795447277123}`,
	`{"id":"e-3","key":"https://x.io/a?b=c","type":"VISIT","ts":"2026-11-23T15:21:17.123456+05:30","dims":{"device":"ios","country":"FR"}}`,
	`{"id":"\u00e9\ud83d\ude00\n","key":"k\"\\\/\b\f\r\t","type":"VIEW","value":-1.5e-7,"ts":"2026-11-23T15:21:17Z"}`,
	` { "id" : null , "value" : null , "dims" : null } `,
	`{}`,
	`{"ID":"a"}`,
	`{"id":"a","id":"b"}`,
	`{"dims":{"a":"1","a":"2"}}`,
	`{"ts":"2026-11-23T15:21:17,5Z"}`,
	`{"ts":1e3}`,
	`{"value":1e400}`,
	"{\"id\":\"\xff\xfe\"}",
	`{"id":"\ud800"}`,
	`[{"id":"a"},{"id":"b"}]`,
	`{"id":"a"`,
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecodeJSON(t, b)
	})
}

func protoSeeds() [][]byte {
	var seeds [][]byte
	ex := exampleEvent()
	seeds = append(seeds, AppendProto(nil, &ex))
	for _, m := range []*eventpb.Event{
		{Id: "e-2", Key: "ad-7", Type: "CLICK", Value: proto.Float64(0.25), TsMs: 1795447277123},
		{Id: "é😀", Dims: map[string]string{"a": "1", "b": "", "": "c"}},
		{TsMs: -1, Value: proto.Float64(math.NaN())},
		{},
	} {
		b, _ := proto.Marshal(m)
		seeds = append(seeds, b)
	}
	seeds = append(seeds,
		[]byte{0x38, 0x96, 0x01, 0x0a, 0x01, 'a'},       // unknown field 7, then id
		[]byte{0x0a, 0x01, 'a', 0x0a, 0x01, 'b'},        // id twice
		[]byte{0x08, 0x01},                              // id with a wrong wire type
		[]byte{0x83, 0x01, 0x0a, 0x01, 'x', 0x84, 0x01}, // group 16
		[]byte{0x32, 0x03, 0x0a, 0x01, 0xff},            // bad UTF-8 dim name
	)
	return seeds
}

func FuzzDecodeProto(f *testing.F) {
	for _, b := range protoSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecodeProto(t, b)
	})
}

func FuzzDecode(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	for _, b := range protoSeeds() {
		f.Add(b)
	}
	f.Add([]byte("\n{\"id\":\"a\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e, again, shared Event
		format, err := Decode(b, &e)
		sFormat, sErr := DecodeShared(append([]byte(nil), b...), &shared)
		if sFormat != format || (sErr == nil) != (err == nil) || (err != nil && sErr.Error() != err.Error()) || (err == nil && !sameEvent(&e, &shared)) {
			t.Fatalf("DecodeShared(%q) = %v %s, %v; Decode = %v %s, %v", b, sFormat, describe(&shared), sErr, format, describe(&e), err)
		}
		jsonErr := DecodeJSON(b, &again)
		if jsonErr == nil && (format != FormatJSON || err != nil) {
			t.Fatalf("Decode(%q) = %v, %v; but it is a JSON event", b, format, err)
		}
		if err != nil {
			return
		}
		switch format {
		case FormatJSON:
			if jsonErr != nil || !sameEvent(&e, &again) {
				t.Fatalf("Decode(%q) = %s as JSON; DecodeJSON = %s, %v", b, describe(&e), describe(&again), jsonErr)
			}
			if !math.IsNaN(e.Value) && !math.IsInf(e.Value, 0) {
				j := AppendJSON(nil, &e)
				if f, err := Decode(j, &again); f != FormatJSON || err != nil || !sameEvent(&e, &again) {
					t.Fatalf("Decode(AppendJSON(%s) = %s) = %v %s, %v", describe(&e), j, f, describe(&again), err)
				}
			}
		case FormatProto:
			if err := DecodeProto(b, &again); err != nil || !sameEvent(&e, &again) {
				t.Fatalf("Decode(%q) = %s as proto; DecodeProto = %s, %v", b, describe(&e), describe(&again), err)
			}
		default:
			t.Fatalf("Decode(%q) = format %v without error", b, format)
		}
		if p := AppendProto(nil, &e); len(p) > 0 {
			if f, err := Decode(p, &again); f != FormatProto || err != nil || !sameEvent(&e, &again) {
				t.Fatalf("Decode(AppendProto(%s) = %x) = %v %s, %v", describe(&e), p, f, describe(&again), err)
			}
		}
	})
}

// FuzzDecodeJSONBatch: never panics; a batch it accepts is valid JSON, and
// each element decodes alone as it did in the batch.
func FuzzDecodeJSONBatch(f *testing.F) {
	f.Add([]byte(`[` + exampleJSON + `,{"id":"b","foo":[1,{"x":null}]}, 42 ,"s",[]]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"id":"a"},`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		err := DecodeJSONBatch(b, func(i int, raw []byte, e *Event, err error) {
			if i != n {
				t.Fatalf("index %d, want %d", i, n)
			}
			n++
			var alone Event
			aloneErr := DecodeJSON(raw, &alone)
			if (err == nil) != (aloneErr == nil) || err == nil && !sameEvent(e, &alone) {
				t.Fatalf("element %d %q: in batch %s, %v; alone %s, %v", i, raw, describe(e), err, describe(&alone), aloneErr)
			}
			if !json.Valid(raw) {
				t.Fatalf("element %d %q is not valid JSON", i, raw)
			}
		})
		if err == nil && !json.Valid(b) {
			t.Fatalf("DecodeJSONBatch(%q) accepts invalid JSON", b)
		}
		var arr []json.RawMessage // stays nil for "null", which is not a batch
		if err != nil && json.Unmarshal(b, &arr) == nil && arr != nil {
			t.Fatalf("DecodeJSONBatch(%q) = %v; encoding/json parses the array", b, err)
		}
	})
}

// FuzzDecodeProtoBatch: never panics; each event decodes alone as it did
// in the batch; CountProtoBatch gives its count and error; a batch the
// protobuf library parses is not rejected unless for a wrong wire type.
func FuzzDecodeProtoBatch(f *testing.F) {
	ex := exampleEvent()
	f.Add(AppendProtoBatch(nil, []Event{ex, {ID: "b"}, {}}))
	f.Add([]byte{0x0a, 0x02, 0x08, 0x01, 0x10, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		err := DecodeProtoBatch(b, func(i int, raw []byte, e *Event, err error) {
			if i != n {
				t.Fatalf("index %d, want %d", i, n)
			}
			n++
			var alone Event
			aloneErr := DecodeProto(raw, &alone)
			if (err == nil) != (aloneErr == nil) || err == nil && !sameEvent(e, &alone) {
				t.Fatalf("event %d %x: in batch %s, %v; alone %s, %v", i, raw, describe(e), err, describe(&alone), aloneErr)
			}
		})
		if c, cerr := CountProtoBatch(b); c != n || (cerr == nil) != (err == nil) || cerr != nil && cerr.Error() != err.Error() {
			t.Fatalf("CountProtoBatch(%x) = %d, %v; DecodeProtoBatch %d, %v", b, c, cerr, n, err)
		}
		var m eventpb.EventBatch
		libErr := proto.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, &m)
		if err == nil && libErr == nil && n != len(m.Events) {
			t.Fatalf("DecodeProtoBatch(%x) gave %d events, proto.Unmarshal %d", b, n, len(m.Events))
		}
		if err != nil && libErr == nil && !strings.Contains(err.Error(), "wire type") {
			t.Fatalf("DecodeProtoBatch(%x) = %v; proto.Unmarshal parses it", b, err)
		}
	})
}
