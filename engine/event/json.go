package event

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The JSON form of an event:
//
//	{"id":"e-1","key":"video-42","type":"VIEW","value":1,"ts":"2026-11-23T15:21:17Z","dims":{"country":"US"}}
//
//   - id, key, type: strings.
//   - value: a number; 1 when absent.
//   - ts: RFC 3339 text (a fraction of a second is truncated to
//     milliseconds) or an integer number of unix milliseconds.
//   - dims: an object of string values; optional.
//
// null is the same as an absent field. Field names are exact and lower
// case; an unknown field, a field given twice, or a dimension name given
// twice is an error. Strings are unescaped as encoding/json does.

// Bits of the JSON fields, to find duplicates.
const (
	fieldID = 1 << iota
	fieldKey
	fieldType
	fieldValue
	fieldTS
	fieldDims
)

const knownFields = "the fields are id, key, type, value, ts, dims"

type dimSpan struct{ name, value span }

// jsonDecoder decodes one event object. It lives on the caller's stack:
// strings are found in place (or unescaped into esc), and all the strings
// of an event are copied into one new string at the end: one allocation.
type jsonDecoder struct {
	jsonScanner
	id, key, typ span
	types        fieldTypes // the members of the wrong JSON type
	ndims        int
	dimArr       [8]dimSpan
	moreDims     []dimSpan           // dims beyond len(dimArr)
	badDims      []span              // names of dims whose value is not a string
	dimSet       map[string]struct{} // the dim names, once there are many
}

// maxInput is the largest input the decoders take (offsets are int32).
const maxInput = math.MaxInt32

func tooLarge(n int) error {
	return errorf(CodeSyntax, "event", strconv.Itoa(n)+" bytes is too large to decode")
}

// DecodeJSON decodes the JSON event b into e, overwriting all of e and
// reusing e.Dims' array. b must hold one event object and nothing else but
// whitespace. e's strings do not refer to b. On error, e is unspecified and
// the error is an *Error.
func DecodeJSON(b []byte, e *Event) error {
	if len(b) > maxInput {
		return tooLarge(len(b))
	}
	var d jsonDecoder
	d.b = b
	err := d.event(e)
	if ErrorCode(err) == CodeSyntax {
		return err
	}
	// Whatever else is wrong with the object, trailing bytes are syntax,
	// the first check (d.i is past the object unless it was a syntax
	// error).
	d.ws()
	if d.i != len(b) {
		return d.syntaxErr("the end of input after the event object")
	}
	return err
}

// event decodes the object at d.i into e. The checks run in the
// contract's order whatever the order of the members: syntax (of the whole
// object), then UTF-8, then unknown and duplicate members, then missing
// ones, then members of the wrong JSON type. On error, e.ID and e.Key are
// the id and key as sent when the object has them as strings (for the
// caller's report), and the rest of e is unspecified.
func (d *jsonDecoder) event(e *Event) error {
	d.ws()
	start := d.i
	d.badUTF8 = 0
	err := d.members(e)
	if err == nil && d.badUTF8 == 0 {
		return nil
	}
	if err != nil && ErrorCode(err) != CodeSyntax {
		// A later check failed: syntax and UTF-8, anywhere in the
		// object, come first.
		d.i, d.badUTF8 = start, 0
		if serr := d.skipValue(); serr != nil {
			err = serr
		} else if d.badUTF8 != 0 {
			err = nil
		}
	}
	if err == nil {
		err = d.utf8Err()
	}
	end := d.i
	d.sentIDKey(start, e)
	d.i = end
	return err
}

// members decodes the object at d.i into e.
func (d *jsonDecoder) members(e *Event) error {
	d.esc = d.esc[:0]
	d.ndims = 0
	d.moreDims = d.moreDims[:0]
	d.badDims, d.dimSet = d.badDims[:0], nil
	d.id, d.key, d.typ = span{}, span{}, span{}
	d.types = fieldTypes{}
	value, ts := 1.0, int64(0)
	var seen uint8
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		if d.i < len(d.b) && (d.b[d.i] == '[' || d.b[d.i] == '"' || d.b[d.i] == '-' || d.b[d.i] >= '0' && d.b[d.i] <= '9' || d.b[d.i] == 't' || d.b[d.i] == 'f' || d.b[d.i] == 'n') {
			return errorf(CodeSyntax, "event", "must be a JSON object, got "+quoteByte(d.b[d.i])+" at byte "+strconv.Itoa(d.i))
		}
		return d.syntaxErr("'{' (an event is a JSON object)")
	}
	d.i++
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return d.finish(e, value, ts)
	}
	for {
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return d.syntaxErr("'\"' starting a field name")
		}
		nameSpan, err := d.str()
		if err != nil {
			return err
		}
		var f uint8
		switch name := d.bytes(nameSpan); string(name) {
		case "id":
			f = fieldID
		case "key":
			f = fieldKey
		case "type":
			f = fieldType
		case "value":
			f = fieldValue
		case "ts":
			f = fieldTS
		case "dims":
			f = fieldDims
		default:
			return unknownField(string(name))
		}
		name := fieldNames[f]
		if seen&f != 0 {
			return errorf(CodeFieldDuplicate, name, "field given twice; give it once")
		}
		seen |= f
		if err := d.colon("a field name", "a value"); err != nil {
			return err
		}
		if d.b[d.i] == 'n' {
			err = d.literal("null")
		} else {
			var serr error // the member has the wrong JSON type
			switch f {
			case fieldID:
				d.id, serr = d.stringField(CodeID, name)
			case fieldKey:
				d.key, serr = d.stringField(CodeKey, name)
			case fieldType:
				d.typ, serr = d.stringField(CodeType, name)
			case fieldValue:
				value, serr = d.value()
			case fieldTS:
				ts, serr = d.ts(e)
			case fieldDims:
				serr = d.dimsObject()
			}
			if serr != nil {
				if code := ErrorCode(serr); code == CodeSyntax || code == CodeFieldDuplicate {
					return serr
				}
				d.types.set(f, serr)
			}
		}
		if err != nil {
			return err
		}
		more, err := d.comma("a field")
		if err != nil {
			return err
		}
		if !more {
			return d.finish(e, value, ts)
		}
	}
}

// colon scans the ':' after a member name and the whitespace up to its
// value, which must follow.
func (d *jsonDecoder) colon(name, value string) error {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != ':' {
		return d.syntaxErr("':' after " + name)
	}
	d.i++
	d.ws()
	if d.i >= len(d.b) {
		return d.syntaxErr(value)
	}
	return nil
}

// comma scans what follows a member of an object: ',' and the whitespace
// after it (more is true), or the closing '}'.
func (d *jsonDecoder) comma(after string) (more bool, err error) {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == ',' {
		d.i++
		d.ws()
		return true, nil
	}
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return false, nil
	}
	return false, d.syntaxErr("',' or '}' after " + after)
}

var fieldNames = [...]string{
	fieldID:    "id",
	fieldKey:   "key",
	fieldType:  "type",
	fieldValue: "value",
	fieldTS:    "ts",
	fieldDims:  "dims",
}

// finish sets e from the decoded spans. A dimension given twice fails. Members of the wrong JSON type
// fail with the first of them, carrying all of them for
// Validator.ValidateDecodedAt, which refuses each at its field's place in
// the contract's order.
func (d *jsonDecoder) finish(e *Event, value float64, ts int64) error {
	n := d.id.len() + d.key.len() + d.typ.len()
	for i := range d.ndims {
		ds := d.dim(i)
		n += ds.name.len() + ds.value.len()
	}
	var sb strings.Builder
	sb.Grow(n)
	sb.Write(d.bytes(d.id))
	sb.Write(d.bytes(d.key))
	sb.Write(d.bytes(d.typ))
	for i := range d.ndims {
		ds := d.dim(i)
		sb.Write(d.bytes(ds.name))
		sb.Write(d.bytes(ds.value))
	}
	all := sb.String()
	off := 0
	next := func(sp span) string {
		s := all[off : off+sp.len()]
		off += sp.len()
		return s
	}
	e.ID = next(d.id)
	e.Key = next(d.key)
	e.Type = next(d.typ)
	e.Value = value
	e.TS = ts
	e.Dims = e.Dims[:0]
	for i := range d.ndims {
		ds := d.dim(i)
		name := next(ds.name)
		e.Dims = append(e.Dims, Dim{Name: name, Value: next(ds.value)})
	}
	if dup := sortDims(e.Dims); dup >= 0 {
		return errorf(CodeFieldDuplicate, dimField(e.Dims[dup].Name), "dimension name "+quote(e.Dims[dup].Name)+" given twice; give it once")
	}
	return d.types.err()
}

// stringField scans a string value; a value of another JSON type is
// skipped and refused with code.
func (d *jsonDecoder) stringField(code, name string) (span, error) {
	if d.b[d.i] != '"' {
		err := errorf(code, name, "must be a JSON string, got "+quoteByte(d.b[d.i])+" at byte "+strconv.Itoa(d.i))
		if serr := d.skipValue(); serr != nil {
			return span{}, serr
		}
		return span{}, err
	}
	return d.str()
}

func (d *jsonDecoder) value() (float64, error) {
	if c := d.b[d.i]; c != '-' && (c < '0' || c > '9') {
		err := errorf(CodeValue, "value", "must be a JSON number (1 when absent), got "+quoteByte(c)+" at byte "+strconv.Itoa(d.i))
		if serr := d.skipValue(); serr != nil {
			return 0, serr
		}
		return 0, err
	}
	num, isInt, err := d.number()
	if err != nil {
		return 0, err
	}
	if isInt && len(num) <= 16 {
		// At most 15 digits and a sign: exact in a float64.
		digits, neg := num, num[0] == '-'
		if neg {
			digits = num[1:]
		}
		if len(digits) <= 15 {
			var n int64
			for _, c := range digits {
				n = n*10 + int64(c-'0')
			}
			v := float64(n)
			if neg {
				v = -v
			}
			return v, nil
		}
	}
	v, perr := strconv.ParseFloat(string(num), 64)
	if perr != nil {
		return 0, errorf(CodeValue, "value", "number "+quote(string(num))+" is out of range for a double")
	}
	if math.Abs(v) == MaxValue && beyondMaxValue(num) {
		// 2^53 + 1 rounds to 2^53: refused, not counted as another value.
		return 0, errorf(CodeValue, "value", "number "+quote(string(num))+" is beyond ±2^53 (9007199254740992), where a double is no longer exact")
	}
	return v, nil
}

// beyondMaxValue reports whether the JSON number num, taken exactly, is
// beyond ±MaxValue (only asked of numbers that round to ±MaxValue).
func beyondMaxValue(num []byte) bool {
	r, ok := new(big.Rat).SetString(string(num))
	return ok && r.Abs(r).Cmp(new(big.Rat).SetInt64(MaxValue)) > 0
}

// ts scans the ts member, setting e.TSNumber.
func (d *jsonDecoder) ts(e *Event) (int64, error) {
	start := d.i
	switch c := d.b[d.i]; {
	case c == '"':
		sp, err := d.str()
		if err != nil {
			return 0, err
		}
		got := d.bytes(sp)
		if ts, ok := parseRFC3339(got); ok {
			// TS 0 without TSNumber means absent; the number 0 is the
			// same verdict for 1970-01-01T00:00:00Z (no unit mistake).
			e.TSNumber = ts == 0
			return ts, nil
		}
		return 0, tsError(quote(string(got)))
	case c == '-' || c >= '0' && c <= '9':
		e.TSNumber = true
		num, isInt, err := d.number()
		if err != nil {
			return 0, err
		}
		if isInt {
			if ts, err := strconv.ParseInt(string(num), 10, 64); err == nil {
				return ts, nil
			}
		}
	default:
		if err := d.skipValue(); err != nil {
			return 0, err
		}
	}
	got := string(d.b[start:d.i])
	if len(got) > maxQuoted {
		got = got[:maxQuoted] + "..."
	}
	return 0, tsError(got)
}

// tsError is the error for a bad ts; got is the value as JSON text.
func tsError(got string) error {
	return errorf(CodeTSRange, "ts", `not RFC3339 or unix milliseconds: want "2026-11-23T15:21:17.123Z" or 1795447277123, got `+got)
}

// AppendJSON appends e as a JSON object to dst:
//
//	{"id":"e-1","key":"video-42","type":"VIEW","value":1,"ts":"2026-11-23T15:21:17.123Z","dims":{"country":"US"}}
//
// ts is RFC 3339 text in UTC for years 1970 to 9999 and a number of unix
// milliseconds otherwise; dims is left out when there are none. Invalid
// UTF-8 is written as U+FFFD. A NaN or infinite Value, which JSON cannot
// express, is written as the string "NaN", "+Inf" or "-Inf", which
// DecodeJSON rejects (as Validate would).
func AppendJSON(dst []byte, e *Event) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, e.ID)
	dst = append(dst, `,"key":`...)
	dst = appendJSONString(dst, e.Key)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, e.Type)
	dst = append(dst, `,"value":`...)
	dst = appendJSONFloat(dst, e.Value)
	dst = append(dst, `,"ts":`...)
	if e.TS >= 0 && e.TS <= maxRFC3339TS {
		dst = append(dst, '"')
		dst = appendRFC3339(dst, e.TS)
		dst = append(dst, '"')
	} else {
		dst = strconv.AppendInt(dst, e.TS, 10)
	}
	if len(e.Dims) > 0 {
		dst = append(dst, `,"dims":{`...)
		for i, dm := range e.Dims {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, dm.Name)
			dst = append(dst, ':')
			dst = appendJSONString(dst, dm.Value)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendJSONFloat appends v as encoding/json would.
func appendJSONFloat(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, `"NaN"`...)
	case math.IsInf(v, 1):
		return append(dst, `"+Inf"`...)
	case math.IsInf(v, -1):
		return append(dst, `"-Inf"`...)
	case v == 1:
		return append(dst, '1')
	}
	format := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, v, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || n != 1 {
				i += n
				continue
			}
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			} else {
				dst = append(dst, `\ufffd`...)
			}
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
