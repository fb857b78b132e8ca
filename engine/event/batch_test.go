package event

import (
	"errors"
	"strings"
	"testing"
)

type batchItem struct {
	raw string
	e   Event
	err string
}

func collect(t *testing.T, decode func([]byte, func(int, []byte, *Event, error)) error, b []byte) ([]batchItem, error) {
	t.Helper()
	var items []batchItem
	err := decode(b, func(i int, raw []byte, e *Event, err error) {
		if i != len(items) {
			t.Fatalf("element index %d, want %d", i, len(items))
		}
		it := batchItem{raw: string(raw)}
		if err != nil {
			var ee *Error
			if !errors.As(err, &ee) {
				t.Fatalf("element %d error %T is not an *Error", i, err)
			}
			it.err = err.Error()
		} else {
			it.e = *e
			it.e.Dims = append([]Dim(nil), e.Dims...)
		}
		items = append(items, it)
	})
	if err != nil {
		var ee *Error
		if !errors.As(err, &ee) || ee.Field != "batch" {
			t.Fatalf("batch error %v is not an *Error with Field batch", err)
		}
	}
	return items, err
}

func TestDecodeJSONBatch(t *testing.T) {
	events := []Event{exampleEvent(), {ID: "b", Key: "k2", Type: "CLICK", Value: 0.5, TS: 7}, {ID: "c", Value: 1, Dims: []Dim{{"a", "1"}, {"b", "2"}}}}
	b := AppendJSONBatch(nil, events)
	items, err := collect(t, DecodeJSONBatch, b)
	if err != nil || len(items) != len(events) {
		t.Fatalf("DecodeJSONBatch(%s) = %d items, %v", b, len(items), err)
	}
	for i, it := range items {
		if it.err != "" || !sameEvent(&it.e, &events[i]) || it.raw != string(AppendJSON(nil, &events[i])) {
			t.Fatalf("element %d = %+v, want %s", i, it, describe(&events[i]))
		}
	}

	// Bad elements are reported one by one, with their raw bytes.
	in := ` [ {"id":"a"} , 42, {"id":"b","foo":{"x":[1,2,{"y":null}]}},"s",{"ts":"x"},{"dims":{"a":"1","a":"2"}}, [], {} ] `
	items, err = collect(t, DecodeJSONBatch, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []batchItem{
		{raw: `{"id":"a"}`, e: Event{ID: "a", Value: 1}},
		{raw: `42`, err: "event: must be a JSON object"},
		{raw: `{"id":"b","foo":{"x":[1,2,{"y":null}]}}`, err: "foo: unknown field"},
		{raw: `"s"`, err: "event: must be a JSON object"},
		{raw: `{"ts":"x"}`, err: "ts: not RFC3339"}, // ValidateDecodedAt: id missing first
		{raw: `{"dims":{"a":"1","a":"2"}}`, err: "dims.a: dimension name \"a\" given twice"},
		{raw: `[]`, err: "event: must be a JSON object"},
		{raw: `{}`, e: Event{Value: 1}},
	}
	checkItems(t, items, want)

	// Elements that are not JSON but that the array's brackets and strings
	// delimit: each refused on its own as syntax, the others decoded (a
	// Python producer writes NaN and Infinity bare).
	in = "[{\"id\":\"a\"}, {\"id\":\"n\",\"value\":NaN} ,{\"value\":-Infinity,\"k\":[\"]}\"]},{\"id\":\"t\x01\tab\"},{\"foo\":\"a\" x},{\"id\":\"b\"}]"
	items, err = collect(t, DecodeJSONBatch, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want = []batchItem{
		{raw: `{"id":"a"}`, e: Event{ID: "a", Value: 1}},
		{raw: `{"id":"n","value":NaN}`, err: "json: invalid character 'N'"},
		{raw: `{"value":-Infinity,"k":["]}"]}`, err: "json: invalid character 'I'"},
		{raw: "{\"id\":\"t\x01\tab\"}", err: "json: control character 0x01"},
		{raw: `{"foo":"a" x}`, err: "json: invalid character 'x'"},
		{raw: `{"id":"b"}`, e: Event{ID: "b", Value: 1}},
	}
	checkItems(t, items, want)

	// Empty arrays.
	for _, in := range []string{`[]`, ` [ ] `, "\n[\n]\n"} {
		if items, err := collect(t, DecodeJSONBatch, []byte(in)); err != nil || len(items) != 0 {
			t.Fatalf("DecodeJSONBatch(%q) = %d items, %v", in, len(items), err)
		}
	}

	// The array itself broken: an error, after the elements before.
	f := func(in string, wantItems int, wantErr string) {
		t.Helper()
		items, err := collect(t, DecodeJSONBatch, []byte(in))
		if err == nil || !strings.Contains(err.Error(), wantErr) || len(items) != wantItems {
			t.Fatalf("DecodeJSONBatch(%s) = %d items, %v; want %d items and an error containing %q", in, len(items), err, wantItems, wantErr)
		}
	}
	f(``, 0, "batch: empty")
	f(`{"id":"a"}`, 0, "not a JSON array")
	f(`[`, 0, "unexpected end of input")
	f(`[{"id":"a"}`, 1, "unexpected end of input")
	f(`[{"id":"a"},`, 1, "unexpected end of input")
	f(`[{"id":"a"},]`, 1, "invalid character ']'")
	f(`[{"id":"a"} {"id":"b"}]`, 1, "',' or ']'")
	f(`[{"id":"a"},{"id":]`, 1, "element 1: json: invalid character ']'")
	f(`[{"id":"a"},{"v":[1}]`, 1, "element 1")   // brackets that do not match
	f(`[{"id":"a"},{"v":"x]`, 1, "element 1")    // a string never closed
	f(`[{"id":"a"},{"v":NaN}`, 1, "element 1")   // the array never closed
	f(`[{"v":NaN},,{"id":"a"}]`, 1, "element 1") // an empty element
	f(`[{"id":"a"}] x`, 1, "end of input after the array")
	f(`[{"id":"a"}]]`, 1, "end of input after the array")
}

// checkItems wants the decoded elements to be want: raw bytes, the error's
// start, or the event.
func checkItems(t *testing.T, items, want []batchItem) {
	t.Helper()
	if len(items) != len(want) {
		t.Fatalf("%d items, want %d: %+v", len(items), len(want), items)
	}
	for i := range want {
		g, w := items[i], want[i]
		if g.raw != w.raw || !strings.HasPrefix(g.err, w.err) || (w.err == "") != (g.err == "") || w.err == "" && !sameEvent(&g.e, &w.e) {
			t.Fatalf("element %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestDecodeProtoBatch(t *testing.T) {
	events := []Event{exampleEvent(), {ID: "b", Key: "k2", Type: "CLICK", Value: 0.5, TS: 7}, {}}
	b := AppendProtoBatch(nil, events)
	// An unknown batch field and a bad event in between.
	b = append(b, 0x10, 0x01)             // field 2 varint: skipped
	b = append(b, 0x0a, 0x02, 0x08, 0x01) // event with id as varint: its own error
	b = append(b, AppendProtoBatch(nil, events[:1])...)
	items, err := collect(t, DecodeProtoBatch, b)
	if err != nil || len(items) != 5 {
		t.Fatalf("DecodeProtoBatch = %d items, %v", len(items), err)
	}
	for i, want := range []Event{events[0], events[1], events[2], {}, events[0]} {
		it := items[i]
		if i == 3 {
			if it.raw != "\x08\x01" || !strings.HasPrefix(it.err, "id: wrong protobuf wire type") {
				t.Fatalf("element 3 = %+v", it)
			}
			continue
		}
		if it.err != "" || !sameEvent(&it.e, &want) || it.raw != string(AppendProto(nil, &want)) {
			t.Fatalf("element %d = %+v, want %s", i, it, describe(&want))
		}
	}
	if items, err := collect(t, DecodeProtoBatch, nil); err != nil || len(items) != 0 {
		t.Fatalf("empty batch = %d items, %v", len(items), err)
	}
	f := func(in []byte, wantItems int, wantErr string) {
		t.Helper()
		items, err := collect(t, DecodeProtoBatch, in)
		if err == nil || !strings.Contains(err.Error(), wantErr) || len(items) != wantItems {
			t.Fatalf("DecodeProtoBatch(%x) = %d items, %v; want %d items and an error containing %q", in, len(items), err, wantItems, wantErr)
		}
	}
	one := AppendProtoBatch(nil, events[:1])
	f(one[:len(one)-1], 0, "batch: element 0: proto: truncated event")
	f(append(one, 0x08, 0x01), 1, "batch: element 1: events: wrong protobuf wire type varint")
	f(append(one, 0x00), 1, "invalid field tag")
	f(append(one, 0x14), 1, "malformed unknown field 2")
}
