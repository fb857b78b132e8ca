package event

import "errors"

// Format is an encoding of events.
type Format uint8

const (
	// FormatJSON is the JSON object of DecodeJSON/AppendJSON.
	FormatJSON Format = iota + 1
	// FormatProto is the protobuf countlab.v1.Event of event.proto.
	FormatProto
)

func (f Format) String() string {
	switch f {
	case FormatJSON:
		return "json"
	case FormatProto:
		return "proto"
	}
	return "unknown"
}

// Decode decodes b, JSON or protobuf, into e and says which it was.
//
// JSON starts with '{', perhaps after whitespace; a protobuf Event never
// starts with '{': 0x7B is the tag of field 15 with wire type 3 (start
// group), and event.proto reserves field 15 and has no groups. One case
// needs care: '\n' (0x0A) is both JSON whitespace and the tag of field 1
// (id), so a protobuf Event whose id is 123 bytes long starts "\n{". When b
// starts with '\n' and then '{' after whitespace, b is JSON unless it is
// not JSON at all (a syntax error: not one object, trailing bytes): then
// it is protobuf if it decodes as a protobuf Event (past the syntax
// check), else JSON with its syntax error. Once b is JSON, every later
// verdict is JSON's: an object that is refused for its members is never
// re-read as protobuf. The other whitespace bytes (' ', '\t', '\r') are
// tags with a wrong wire type for their fields (4, 1, 1), so a valid
// protobuf Event never starts with them.
//
// Empty input (or only whitespace followed by nothing) is an error. On
// error the Format is the one b was taken for, or 0 for empty input. A
// JSON member of the wrong type is an error that
// Validator.ValidateDecodedAt places in the contract's order.
func Decode(b []byte, e *Event) (Format, error) { return decode(b, e, false) }

// DecodeShared is Decode without the copy of a protobuf event's strings:
// when b is protobuf (Format FormatProto, err nil), e.ID, e.Key, e.Type
// and e.Dims' strings are b's own bytes, valid only while b is neither
// changed nor reused. A caller that keeps any of them past that (a map
// key, a series name) must copy it first (strings.Clone). A JSON b, and an
// event that fails to decode (the id and key of its report), are copied
// as in Decode. For a consumer that decodes each record once, reads the
// event and lets it go before the record's buffer is recycled: the
// engine's worker, whose records come from a pool (kgo.WithPools).
func DecodeShared(b []byte, e *Event) (Format, error) { return decode(b, e, true) }

func decode(b []byte, e *Event, shared bool) (Format, error) {
	if len(b) == 0 {
		return 0, errorf(CodeSyntax, "event", "empty record value; want a JSON object or a protobuf countlab.v1.Event")
	}
	if b[0] == '{' {
		return FormatJSON, DecodeJSON(b, e)
	}
	if !isSpace(b[0]) {
		err := decodeProtoMode(b, e, shared)
		var pe *Error
		if err != nil && errors.As(err, &pe) {
			// Say both things a reader needs: it is not JSON, and why it
			// is not a protobuf Event either.
			pe.Reason += " (and not JSON: it does not start with '{')"
		}
		return FormatProto, err
	}
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i == len(b) && b[0] != '\n' {
		return 0, errorf(CodeSyntax, "event", "only whitespace; want a JSON object or a protobuf countlab.v1.Event")
	}
	if i == len(b) || b[i] != '{' {
		if b[0] == '\n' {
			return FormatProto, decodeProtoMode(b, e, shared)
		}
		return FormatJSON, DecodeJSON(b, e) // not an event either way; JSON's error is the clearer one
	}
	jerr := DecodeJSON(b, e)
	if b[0] != '\n' || ErrorCode(jerr) != CodeSyntax {
		return FormatJSON, jerr
	}
	var pe Event
	if perr := DecodeProto(b, &pe); ErrorCode(perr) != CodeSyntax {
		pe.Dims = append(e.Dims[:0], pe.Dims...)
		*e = pe
		return FormatProto, perr
	}
	return FormatJSON, jerr
}
