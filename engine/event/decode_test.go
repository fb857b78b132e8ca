package event

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	ex := exampleEvent()
	pb := AppendProto(nil, &ex)
	// A protobuf event with a 123-byte id starts "\n{", like JSON after a
	// newline.
	long := ex
	long.ID = strings.Repeat("i", 123)
	pbLong := AppendProto(nil, &long)
	if string(pbLong[:2]) != "\n{" {
		t.Fatalf("pbLong starts %q", pbLong[:2])
	}
	// ... and one whose id is '{' and whitespace.
	odd := Event{ID: "\t{", Value: 1}
	pbOdd := AppendProto(nil, &odd) // "\n\x02\t{"

	f := func(in []byte, wantFormat Format, want *Event, wantErr string) {
		t.Helper()
		// DecodeShared gives the same verdict and the same event.
		var shared Event
		sFormat, sErr := DecodeShared(append([]byte(nil), in...), &shared)
		var got Event
		format, err := Decode(in, &got)
		if sFormat != format || (sErr == nil) != (err == nil) || (err != nil && sErr.Error() != err.Error()) {
			t.Fatalf("DecodeShared(%q) = %v, %v; Decode = %v, %v", in, sFormat, sErr, format, err)
		}
		if err == nil && !sameEvent(&shared, &got) {
			t.Fatalf("DecodeShared(%q) = %s; Decode = %s", in, describe(&shared), describe(&got))
		}
		if format != wantFormat {
			t.Fatalf("Decode(%q) format = %v, want %v (err %v)", in, format, wantFormat, err)
		}
		if wantErr != "" {
			var ee *Error
			if !errors.As(err, &ee) || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("Decode(%q) = %v, want an *Error containing %q", in, err, wantErr)
			}
			return
		}
		if err != nil || !sameEvent(&got, want) {
			t.Fatalf("Decode(%q) = %s, %v; want %s", in, describe(&got), err, describe(want))
		}
	}
	f([]byte(exampleJSON), FormatJSON, &ex, "")
	f([]byte(" \r\n\t"+exampleJSON+"\n"), FormatJSON, &ex, "")
	f([]byte("\n"+exampleJSON), FormatJSON, &ex, "")
	f(pb, FormatProto, &ex, "")
	f(pbLong, FormatProto, &long, "")
	f(pbOdd, FormatProto, &odd, "")
	f(nil, 0, nil, "event: empty")
	f([]byte(" \t"), 0, nil, "only whitespace")
	f([]byte("{"), FormatJSON, nil, "json: unexpected end of input")
	f([]byte(" [1]"), FormatJSON, nil, "event: must be a JSON object")
	f([]byte("\n{\"bad\":1}"), FormatJSON, nil, "bad: unknown field")
	// "\n{" that is JSON stays JSON whatever later check fails; only a
	// JSON syntax error is tried as protobuf.
	f([]byte("\n{\"id\":\"\",\"key\":\"k\",\"Key\":1}"), FormatJSON, nil, "Key: unknown field")
	f([]byte("\n{\"id\":\"a\",\"ts\":[]}"), FormatJSON, nil, "ts: not RFC3339")
	f([]byte("\n{\"id\":\"a\"}x"), FormatJSON, nil, "expected the end of input")
	f(append(append([]byte(nil), pbLong...), 0xff), FormatJSON, nil, "json:") // neither: JSON's error
	f([]byte("\n\n"), FormatProto, nil, "proto: truncated field id")
	f([]byte("hello"), FormatProto, nil, "proto:")
	f([]byte{0x08, 1}, FormatProto, nil, "id: wrong protobuf wire type")

	for _, format := range []Format{0, FormatJSON, FormatProto, 9} {
		if format.String() == "" {
			t.Errorf("Format(%d) has no name", format)
		}
	}
}

func TestErrorText(t *testing.T) {
	f := func(err *Error, want string) {
		t.Helper()
		if got := err.Error(); got != want {
			t.Fatalf("Error() = %q, want %q", got, want)
		}
	}
	f(&Error{Field: "ts", Reason: "not RFC3339 or unix milliseconds"}, "ts: not RFC3339 or unix milliseconds")
	f(&Error{Reason: "bad"}, "bad")
	var e Event
	err := DecodeJSON([]byte(`{"id":"a","key":"k","type":"VIEW","ts":"x"}`), &e)
	if got := err.Error(); !strings.HasPrefix(got, "ts: not RFC3339 or unix milliseconds") {
		t.Fatalf("ts error = %q", got)
	}
	// A huge bad field name makes a short reason.
	err = DecodeJSON([]byte(`{"`+strings.Repeat("é", 5000)+`":1}`), &e)
	if len(err.Error()) > 200 {
		t.Fatalf("error for a huge field name is %d bytes", len(err.Error()))
	}
}

// TestHostileInputs: big inputs take linear time (a quadratic sort of 100k
// dims would take many seconds), and deep nesting in a batch element does
// not overflow anything.
func TestHostileInputs(t *testing.T) {
	const n = 100000
	e := Event{ID: "big", Value: 1}
	for i := n; i > 0; i-- {
		e.Dims = append(e.Dims, Dim{Name: "d" + strconv.Itoa(i), Value: "v"})
	}
	start := time.Now()
	j := AppendJSON(nil, &e) // unsorted dims: the decoders sort them
	p := AppendProto(nil, &e)
	var got Event
	if err := DecodeJSON(j, &got); err != nil || len(got.Dims) != n || !sort.SliceIsSorted(got.Dims, func(a, b int) bool { return got.Dims[a].Name < got.Dims[b].Name }) {
		t.Fatalf("DecodeJSON(%d dims) = %d dims, %v", n, len(got.Dims), err)
	}
	if err := DecodeProto(p, &got); err != nil || len(got.Dims) != n {
		t.Fatalf("DecodeProto(%d dims) = %d dims, %v", n, len(got.Dims), err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("decoding %d dims took %v", n, d)
	}

	deep := "[" + strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + `,{"id":"a"}]`
	var items int
	if err := DecodeJSONBatch([]byte(deep), func(i int, raw []byte, e *Event, err error) { items++ }); err != nil || items != 2 {
		t.Fatalf("deep batch: %d items, %v", items, err)
	}
	if err := DecodeJSONBatch([]byte("["+strings.Repeat("[", 1000)+"]"), func(int, []byte, *Event, error) {}); err == nil {
		t.Fatal("unbalanced deep batch accepted")
	}
}
