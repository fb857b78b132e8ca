package event

import (
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/countlab/countlab/engine/event/eventpb"
)

// Benchmarks on the typical event: exampleJSON and its protobuf form. The
// decode benchmarks reuse one Event, as a consumer loop does.
//
//	go test -run=NONE -bench=. -benchmem -count=5 ./engine/event/

func BenchmarkDecodeJSON(b *testing.B) {
	in := []byte(exampleJSON)
	var e Event
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := DecodeJSON(in, &e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJSONStdlib is the baseline: encoding/json into the
// equivalent struct, plus the ts parse and dims sort DecodeJSON does.
func BenchmarkDecodeJSONStdlib(b *testing.B) {
	in := []byte(exampleJSON)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := stdDecodeJSON(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJSONStdlibUnmarshal is encoding/json alone: json.Unmarshal
// into the struct, without the conversion to an Event.
func BenchmarkDecodeJSONStdlibUnmarshal(b *testing.B) {
	in := []byte(exampleJSON)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		var r refEvent
		if err := json.Unmarshal(in, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeProto(b *testing.B) {
	ex := exampleEvent()
	in := AppendProto(nil, &ex)
	var e Event
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := DecodeProto(in, &e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeProtoLibrary is the baseline: proto.Unmarshal into the
// generated type.
func BenchmarkDecodeProtoLibrary(b *testing.B) {
	ex := exampleEvent()
	in := AppendProto(nil, &ex)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		var m eventpb.Event
		if err := proto.Unmarshal(in, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	ex := exampleEvent()
	for _, bc := range []struct {
		name string
		in   []byte
	}{{"json", []byte(exampleJSON)}, {"proto", AppendProto(nil, &ex)}} {
		b.Run(bc.name, func(b *testing.B) {
			var e Event
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				if _, err := Decode(bc.in, &e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	e := exampleEvent()
	e.TS += 123
	buf := AppendJSON(nil, &e)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf = AppendJSON(buf[:0], &e)
	}
}

func BenchmarkAppendProto(b *testing.B) {
	e := exampleEvent()
	buf := AppendProto(nil, &e)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf = AppendProto(buf[:0], &e)
	}
}

func BenchmarkValidate(b *testing.B) {
	v, _ := NewValidator()
	e := exampleEvent()
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Validate(&e); err != nil {
			b.Fatal(err)
		}
	}
}

func batchOf(n int) []Event {
	events := make([]Event, n)
	for i := range events {
		events[i] = exampleEvent()
	}
	return events
}

// Batch benchmarks: per event figures are ns/op / 100.
func BenchmarkDecodeJSONBatch100(b *testing.B) {
	in := AppendJSONBatch(nil, batchOf(100))
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := DecodeJSONBatch(in, func(int, []byte, *Event, error) {}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeProtoBatch100(b *testing.B) {
	in := AppendProtoBatch(nil, batchOf(100))
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := DecodeProtoBatch(in, func(int, []byte, *Event, error) {}); err != nil {
			b.Fatal(err)
		}
	}
}
