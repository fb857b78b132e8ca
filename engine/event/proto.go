package event

import (
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// The protobuf form of an event is message countlab.v1.Event of
// event.proto, with a hand-written codec (no reflection, one allocation for
// all the strings of an event). Package eventpb holds the generated Go type,
// used only to test this codec against the protobuf library.
//
// Decoding follows protobuf's rules where they apply: unknown fields are
// skipped (so newer producers can add fields), a scalar field given twice
// takes the last value, a dimension name given twice takes the last value,
// and strings must be valid UTF-8. Unlike the protobuf library, a known
// field with the wrong wire type is an error rather than an unknown field.

// Field numbers and tags (field number << 3 | wire type) of event.proto.
const (
	protoTagID    = 1<<3 | byte(protowire.BytesType)
	protoTagKey   = 2<<3 | byte(protowire.BytesType)
	protoTagType  = 3<<3 | byte(protowire.BytesType)
	protoTagValue = 4<<3 | byte(protowire.Fixed64Type)
	protoTagTS    = 5<<3 | byte(protowire.VarintType)
	protoTagDims  = 6<<3 | byte(protowire.BytesType)
	// In a dims map entry, and in EventBatch (repeated Event events = 1).
	protoTagEntryKey   = 1<<3 | byte(protowire.BytesType)
	protoTagEntryValue = 2<<3 | byte(protowire.BytesType)
	protoTagBatchEvent = 1<<3 | byte(protowire.BytesType)
)

// protoFieldNames names the fields of event.proto as JSON does, for errors.
var protoFieldNames = [...]string{1: "id", 2: "key", 3: "type", 4: "value", 5: "ts", 6: "dims"}

// protoWireTypes are the wire types of the fields of event.proto.
var protoWireTypes = [...]protowire.Type{1: protowire.BytesType, 2: protowire.BytesType, 3: protowire.BytesType,
	4: protowire.Fixed64Type, 5: protowire.VarintType, 6: protowire.BytesType}

var wireTypeNames = [...]string{
	protowire.VarintType:     "varint",
	protowire.Fixed32Type:    "fixed32",
	protowire.Fixed64Type:    "fixed64",
	protowire.BytesType:      "length-delimited",
	protowire.StartGroupType: "start-group",
	protowire.EndGroupType:   "end-group",
	6:                        "invalid (6)",
	7:                        "invalid (7)",
}

// protoTag reads the tag at b[i:]; n < 0 is protowire's error code.
func protoTag(b []byte, i int) (protowire.Number, protowire.Type, int) {
	if c := b[i]; c < 0x80 {
		if c < 8 {
			return 0, 0, -1
		}
		return protowire.Number(c >> 3), protowire.Type(c & 7), 1
	}
	num, wt, n := protowire.ConsumeTag(b[i:])
	if n > 0 && num > protowire.MaxValidNumber {
		return 0, 0, -1 // ConsumeTag takes numbers up to 2^31-1
	}
	return num, wt, n
}

// protoLen reads the length prefix at b[i:] and returns the content's
// bounds, or ok false when it is malformed or runs past the end of b.
func protoLen(b []byte, i int) (lo, hi int, ok bool) {
	var n uint64
	if i < len(b) && b[i] < 0x80 {
		n = uint64(b[i])
		i++
	} else {
		v, m := protowire.ConsumeVarint(b[i:])
		if m < 0 {
			return 0, 0, false
		}
		n = v
		i += m
	}
	if n > uint64(len(b)-i) {
		return 0, 0, false
	}
	return i, i + int(n), true
}

func protoErr(i int, what string) error {
	return errorf(CodeSyntax, "proto", what+" at byte "+strconv.Itoa(i)+" (truncated or not a protobuf countlab.v1.Event)")
}

func wireTypeErr(field string, got, want protowire.Type) error {
	return errorf(CodeSyntax, field, "wrong protobuf wire type "+wireTypeNames[got&7]+", want "+wireTypeNames[want]+" (see event.proto)")
}

// DecodeProto decodes the protobuf countlab.v1.Event b into e, overwriting
// all of e and reusing e.Dims' array. e's strings do not refer to b. On
// error the error is an *Error, e.ID and e.Key are the id and key as sent
// when b has them, and the rest of e is unspecified. As in JSON, a syntax
// error anywhere comes before invalid UTF-8. An empty id, key or type is
// missing (proto3 does not tell an empty field from an absent one), and so
// is ts when b has no ts_ms; the Validator says so.
func DecodeProto(b []byte, e *Event) error {
	return decodeProtoMode(b, e, false)
}

func decodeProtoMode(b []byte, e *Event, shared bool) error {
	if len(b) > maxInput {
		return tooLarge(len(b))
	}
	err := decodeProto(b, e, shared)
	if err != nil {
		e.ID, e.Key = protoSentIDKey(b)
	}
	return err
}

// protoSentIDKey is the last id and key fields of b (protobuf's rule),
// for the report of an event that failed.
func protoSentIDKey(b []byte) (id, key string) {
	for i := 0; i < len(b); {
		num, wt, n := protoTag(b, i)
		if n < 0 {
			return id, key
		}
		i += n
		if (num == 1 || num == 2) && wt == protowire.BytesType {
			lo, hi, ok := protoLen(b, i)
			if !ok {
				return id, key
			}
			if num == 1 {
				id = string(b[lo:hi])
			} else {
				key = string(b[lo:hi])
			}
			i = hi
			continue
		}
		m := protowire.ConsumeFieldValue(num, wt, b[i:])
		if m < 0 {
			return id, key
		}
		i += m
	}
	return id, key
}

// decodeProto decodes b into e; shared: e's strings share b's bytes (no
// copy, DecodeShared).
func decodeProto(b []byte, e *Event, shared bool) error {
	var badUTF8 error // the first string that is not UTF-8
	haveTS := false
	var (
		id, key, typ span
		value        = 1.0
		ts           int64
		dimArr       [16]dimSpan
		dims         = dimArr[:0]
	)
	for i := 0; i < len(b); {
		tagAt := i
		num, wt, n := protoTag(b, i)
		if n < 0 {
			return protoErr(tagAt, "invalid field tag")
		}
		i += n
		if num >= 1 && num <= 6 && wt != protoWireTypes[num] {
			return wireTypeErr(protoFieldNames[num], wt, protoWireTypes[num])
		}
		switch num {
		case 1, 2, 3:
			lo, hi, ok := protoLen(b, i)
			if !ok {
				return protoErr(tagAt, "truncated field "+protoFieldNames[num])
			}
			if badUTF8 == nil && !validUTF8(b[lo:hi]) {
				badUTF8 = errorf(CodeUTF8, protoFieldNames[num], "not valid UTF-8")
			}
			switch num {
			case 1:
				id = span{lo: int32(lo), hi: int32(hi)}
			case 2:
				key = span{lo: int32(lo), hi: int32(hi)}
			case 3:
				typ = span{lo: int32(lo), hi: int32(hi)}
			}
			i = hi
		case 4:
			if len(b)-i < 8 {
				return protoErr(tagAt, "truncated field value")
			}
			value = math.Float64frombits(binary.LittleEndian.Uint64(b[i:]))
			i += 8
		case 5:
			v, m := protowire.ConsumeVarint(b[i:])
			if m < 0 {
				return protoErr(tagAt, "truncated field ts")
			}
			ts = int64(v)
			haveTS = true
			i += m
		case 6:
			lo, hi, ok := protoLen(b, i)
			if !ok {
				return protoErr(tagAt, "truncated field dims")
			}
			ds, err := protoDimEntry(b, lo, hi)
			if ErrorCode(err) == CodeSyntax {
				return err
			}
			if err != nil && badUTF8 == nil {
				badUTF8 = err
			}
			dims = append(dims, ds)
			i = hi
		default:
			m := protowire.ConsumeFieldValue(num, wt, b[i:])
			if m < 0 {
				return protoErr(tagAt, "malformed unknown field "+strconv.Itoa(int(num)))
			}
			i += m
		}
	}

	if badUTF8 != nil {
		return badUTF8
	}
	// One string for all: the stretch of b from the first string to the
	// last, unless something big (an unknown field) lies in between.
	total, lo, hi := 0, len(b), 0
	cover := func(s span) {
		if s.hi > s.lo {
			total += s.len()
			lo, hi = min(lo, int(s.lo)), max(hi, int(s.hi))
		}
	}
	cover(id)
	cover(key)
	cover(typ)
	for _, ds := range dims {
		cover(ds.name)
		cover(ds.value)
	}
	var all string
	compact := hi > lo && (shared || hi-lo <= 2*total+64)
	switch {
	case compact && shared:
		all = unsafe.String(&b[lo], hi-lo)
	case compact:
		all = string(b[lo:hi])
	}
	str := func(s span) string {
		switch {
		case s.hi == s.lo:
			return ""
		case compact:
			return all[int(s.lo)-lo : int(s.hi)-lo]
		}
		return string(b[s.lo:s.hi])
	}
	e.ID = str(id)
	e.Key = str(key)
	e.Type = str(typ)
	e.Value = value
	e.TS = ts
	e.TSNumber = haveTS
	e.Dims = e.Dims[:0]
	if len(dims) == 0 {
		return nil
	}
	for _, ds := range dims {
		e.Dims = append(e.Dims, Dim{Name: str(ds.name), Value: str(ds.value)})
	}
	if sortDims(e.Dims) >= 0 {
		e.Dims = lastOfEachName(e.Dims)
	}
	return nil
}

// validUTF8 is utf8.Valid, without the call for short ASCII strings.
func validUTF8(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return utf8.Valid(b)
		}
	}
	return true
}

// lastOfEachName keeps, of sorted dims with equal names in their original
// order, the last of each name (protobuf's rule for a map key given twice).
func lastOfEachName(dims []Dim) []Dim {
	out := dims[:0]
	for i := range dims {
		if i+1 < len(dims) && dims[i+1].Name == dims[i].Name {
			continue
		}
		out = append(out, dims[i])
	}
	return out
}

// protoDimEntry decodes the dims map entry b[lo:hi]; an error that is not
// a syntax error is about UTF-8 (and ds is set).
func protoDimEntry(b []byte, lo, hi int) (dimSpan, error) {
	var ds dimSpan
	var bad error
	b = b[:hi]
	for i := lo; i < hi; {
		tagAt := i
		num, wt, n := protoTag(b, i)
		if n < 0 {
			return ds, protoErr(tagAt, "invalid field tag in a dims entry")
		}
		i += n
		if num != 1 && num != 2 {
			m := protowire.ConsumeFieldValue(num, wt, b[i:])
			if m < 0 {
				return ds, protoErr(tagAt, "malformed unknown field "+strconv.Itoa(int(num))+" in a dims entry")
			}
			i += m
			continue
		}
		if wt != protowire.BytesType {
			return ds, wireTypeErr("dims", wt, protowire.BytesType)
		}
		slo, shi, ok := protoLen(b, i)
		if !ok {
			return ds, protoErr(tagAt, "truncated dims entry")
		}
		if bad == nil && !validUTF8(b[slo:shi]) {
			bad = errorf(CodeUTF8, "dims", "dimension value not valid UTF-8")
			if num == 1 {
				bad = errorf(CodeUTF8, "dims", "dimension name not valid UTF-8")
			}
		}
		if num == 1 {
			ds.name = span{lo: int32(slo), hi: int32(shi)}
		} else {
			ds.value = span{lo: int32(slo), hi: int32(shi)}
		}
		i = shi
	}
	return ds, bad
}

// AppendProto appends e as a protobuf countlab.v1.Event to dst. Fields at
// their proto3 default (empty strings, ts 0) are left out, and so is value
// when it is 1 (its default). The bytes are what proto.Marshal with
// Deterministic set writes for the same message.
func AppendProto(dst []byte, e *Event) []byte {
	if e.ID != "" {
		dst = append(dst, protoTagID)
		dst = protowire.AppendString(dst, e.ID)
	}
	if e.Key != "" {
		dst = append(dst, protoTagKey)
		dst = protowire.AppendString(dst, e.Key)
	}
	if e.Type != "" {
		dst = append(dst, protoTagType)
		dst = protowire.AppendString(dst, e.Type)
	}
	if bits := math.Float64bits(e.Value); bits != math.Float64bits(1) {
		dst = append(dst, protoTagValue)
		dst = binary.LittleEndian.AppendUint64(dst, bits)
	}
	if e.TS != 0 {
		dst = append(dst, protoTagTS)
		dst = protowire.AppendVarint(dst, uint64(e.TS))
	}
	for _, dm := range e.Dims {
		dst = append(dst, protoTagDims)
		dst = protowire.AppendVarint(dst, uint64(sizeDimEntry(dm)))
		dst = append(dst, protoTagEntryKey)
		dst = protowire.AppendString(dst, dm.Name)
		dst = append(dst, protoTagEntryValue)
		dst = protowire.AppendString(dst, dm.Value)
	}
	return dst
}

func sizeDimEntry(dm Dim) int {
	return 2 + protowire.SizeBytes(len(dm.Name)) + protowire.SizeBytes(len(dm.Value))
}

// sizeProto is len(AppendProto(nil, e)).
func sizeProto(e *Event) int {
	n := 0
	if e.ID != "" {
		n += 1 + protowire.SizeBytes(len(e.ID))
	}
	if e.Key != "" {
		n += 1 + protowire.SizeBytes(len(e.Key))
	}
	if e.Type != "" {
		n += 1 + protowire.SizeBytes(len(e.Type))
	}
	if math.Float64bits(e.Value) != math.Float64bits(1) {
		n += 9
	}
	if e.TS != 0 {
		n += 1 + protowire.SizeVarint(uint64(e.TS))
	}
	for _, dm := range e.Dims {
		n += 1 + protowire.SizeBytes(sizeDimEntry(dm))
	}
	return n
}
