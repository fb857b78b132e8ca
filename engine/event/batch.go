package event

import (
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// Batches, as the ingest gateway takes them: a JSON array of event objects,
// or a protobuf countlab.v1.EventBatch. One bad event does not spoil the
// batch: each element is decoded on its own and handed over with its raw
// bytes, so the caller can send a bad one to the dead-letter topic as it
// came.

// DecodeJSONBatch decodes the JSON array of events b and calls fn for each
// element in order: i is its index, raw its bytes within b (without the
// surrounding whitespace and commas), e the decoded event when err is nil,
// and err the element's decode error (an *Error: not an object, unknown
// field, bad ts, ...). The event is not validated. fn must not keep e or
// raw after it returns: e is reused for the next element; copy what you
// need (e's strings may be kept, they do not refer to b).
//
// An element that is not JSON (a NaN or Infinity literal as Python's json
// writes them, a raw control character in a string, a missing comma
// inside the object) is handed to fn with its syntax error, like any other
// bad element, as long as the array's brackets and strings still tell
// where it ends (skipElement). DecodeJSONBatch returns an error only when
// the array itself cannot be split (not an array, truncated, unbalanced
// brackets, an unterminated string, an empty element): then fn has been
// called for the elements before the broken one.
func DecodeJSONBatch(b []byte, fn func(i int, raw []byte, e *Event, err error)) error {
	if len(b) > maxInput {
		return tooLarge(len(b))
	}
	var d jsonDecoder
	d.b = b
	d.ws()
	if d.i >= len(b) || b[d.i] != '[' {
		if d.i >= len(b) {
			return errorf(CodeSyntax, "batch", "empty; want a JSON array of events")
		}
		return errorf(CodeSyntax, "batch", "not a JSON array: starts with "+quoteByte(b[d.i])+", want '['")
	}
	d.i++
	d.ws()
	var e Event
	if d.i < len(b) && b[d.i] == ']' {
		d.i++
	} else {
		for n := 0; ; n++ {
			start := d.i
			err := d.event(&e)
			if err != nil {
				// Find where the element ends: as JSON, or else by the
				// brackets and strings around it (skipElement); when
				// neither delimits it, the array cannot be split.
				d.i = start
				if serr := d.skipValue(); serr != nil {
					d.i = start
					if !d.skipElement() {
						return batchErr(n, serr)
					}
				}
			}
			fn(n, b[start:d.i], &e, err)
			d.ws()
			if d.i < len(b) && b[d.i] == ',' {
				d.i++
				d.ws()
				continue
			}
			if d.i < len(b) && b[d.i] == ']' {
				d.i++
				break
			}
			return batchErr(n, d.syntaxErr("',' or ']' after an event"))
		}
	}
	d.ws()
	if d.i != len(b) {
		return batchErr(-1, d.syntaxErr("the end of input after the array"))
	}
	return nil
}

// skipElement moves d.i past the element at d.i that is not JSON, to the
// ',' or ']' that ends it at the array's depth, and reports whether it
// found one. It reads only the structure: strings (from '"' to the next
// unescaped '"', whatever bytes are between) and brackets, which must
// nest and match; every other byte is part of the element. An element of
// no bytes, a bracket closed by the wrong kind, a '}' at the array's depth
// and an unterminated string or bracket are not delimited: d.i is then
// undefined.
func (d *jsonDecoder) skipElement() bool {
	b := d.b
	var open []byte // the closing bracket each open one wants
	start := d.i
	for i := d.i; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) {
				return false
			}
		case '{':
			open = append(open, '}')
		case '[':
			open = append(open, ']')
		case '}', ']':
			if len(open) == 0 {
				return c == ']' && d.endElement(start, i)
			}
			if open[len(open)-1] != c {
				return false
			}
			open = open[:len(open)-1]
		case ',':
			if len(open) == 0 {
				return d.endElement(start, i)
			}
		}
	}
	return false
}

// endElement ends the element that started at start before the
// delimiter at i, without its trailing whitespace; an element of no bytes
// is not one.
func (d *jsonDecoder) endElement(start, i int) bool {
	for i > start && isSpace(d.b[i-1]) {
		i--
	}
	d.i = i
	return i > start
}

func batchErr(i int, err error) error {
	reason := err.Error()
	if i >= 0 {
		reason = "element " + strconv.Itoa(i) + ": " + reason
	}
	return errorf(CodeSyntax, "batch", reason)
}

// DecodeProtoBatch decodes the protobuf countlab.v1.EventBatch b and calls
// fn for each event in order, like DecodeJSONBatch: raw is the event's
// message bytes within b. Unknown fields of the batch are skipped. It
// returns an error only when the batch itself cannot be parsed (a bad tag,
// events with the wrong wire type, truncated): then fn has been called for
// the events before.
func DecodeProtoBatch(b []byte, fn func(i int, raw []byte, e *Event, err error)) error {
	var e Event
	_, err := walkProtoBatch(b, func(i int, raw []byte) { fn(i, raw, &e, DecodeProto(raw, &e)) })
	return err
}

// CountProtoBatch is the number of events in the protobuf
// countlab.v1.EventBatch b without decoding them, or the error
// DecodeProtoBatch returns for b (the same checks of the batch's own
// wire format): what a gateway needs to know to admit or refuse a batch
// before the work of decoding it.
func CountProtoBatch(b []byte) (int, error) { return walkProtoBatch(b, nil) }

// walkProtoBatch calls fn (if not nil) with each event's message bytes
// within the batch b, in order, and returns how many there were, or the
// batch's own wire-format error.
func walkProtoBatch(b []byte, fn func(i int, raw []byte)) (int, error) {
	n := 0
	for i := 0; i < len(b); {
		tagAt := i
		num, wt, m := protoTag(b, i)
		if m < 0 {
			return n, batchErr(n, protoErr(tagAt, "invalid field tag"))
		}
		i += m
		if num != 1 {
			m := protowire.ConsumeFieldValue(num, wt, b[i:])
			if m < 0 {
				return n, batchErr(n, protoErr(tagAt, "malformed unknown field "+strconv.Itoa(int(num))))
			}
			i += m
			continue
		}
		if wt != protowire.BytesType {
			return n, batchErr(n, wireTypeErr("events", wt, protowire.BytesType))
		}
		lo, hi, ok := protoLen(b, i)
		if !ok {
			return n, batchErr(n, protoErr(tagAt, "truncated event"))
		}
		if fn != nil {
			fn(n, b[lo:hi])
		}
		n++
		i = hi
	}
	return n, nil
}

// AppendJSONBatch appends events as a JSON array to dst.
func AppendJSONBatch(dst []byte, events []Event) []byte {
	dst = append(dst, '[')
	for i := range events {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSON(dst, &events[i])
	}
	return append(dst, ']')
}

// AppendProtoBatch appends events as a protobuf countlab.v1.EventBatch to
// dst.
func AppendProtoBatch(dst []byte, events []Event) []byte {
	for i := range events {
		dst = append(dst, protoTagBatchEvent)
		dst = protowire.AppendVarint(dst, uint64(sizeProto(&events[i])))
		dst = AppendProto(dst, &events[i])
	}
	return dst
}
