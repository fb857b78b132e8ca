package oracle

import (
	"math"
	"math/big"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// partial is an event decoded far enough to run checks 4 to 13: which
// fields were present, and the first field whose JSON type is wrong (its
// code decides at that field's place in the order).
type partial struct {
	Event
	hasID, hasKey, hasType, hasTS bool
	// badType is the code of a field with a wrong JSON type ("" if none).
	badID, badKey, badType, badValue, badTS, badDims bool
	dup                                              bool // a duplicate dimension name
}

// decodeJSON runs checks 1 to 3 on a raw JSON event and decodes it.
func decodeJSON(b []byte) (partial, string) {
	var p partial
	v, badUTF, ok := parseJSON(b)
	if !ok || v.kind != jObject {
		return p, CodeSyntax
	}
	if badUTF {
		return p, CodeUTF8
	}
	seen := map[string]bool{}
	for _, m := range v.members {
		switch m.name {
		case "id", "key", "type", "value", "ts", "dims":
		default:
			return p, CodeFieldUnknown
		}
		if seen[m.name] {
			return p, CodeFieldDuplicate
		}
		seen[m.name] = true
		if m.name == "dims" && m.value.kind == jObject {
			names := map[string]bool{}
			for _, d := range m.value.members {
				if names[d.name] {
					return p, CodeFieldDuplicate
				}
				names[d.name] = true
			}
		}
		if m.value.kind == jNull {
			continue // null is an absent field
		}
		str := func(bad *bool, has *bool) string {
			*has = true
			if m.value.kind != jString {
				*bad = true
			}
			return m.value.text
		}
		switch m.name {
		case "id":
			p.ID = str(&p.badID, &p.hasID)
		case "key":
			p.Key = str(&p.badKey, &p.hasKey)
		case "type":
			p.Type = str(&p.badType, &p.hasType)
		case "value":
			p.HasValue = true
			if m.value.kind != jNumber {
				p.badValue = true
				break
			}
			f, err := strconv.ParseFloat(m.value.text, 64)
			if err != nil && !math.IsInf(f, 0) {
				p.badValue = true
			}
			// The number as written, not as rounded: 2^53+1 is beyond
			// the bound even though its double is 2^53.
			if math.Abs(f) == maxValue && beyondMax(m.value.text) {
				p.badValue = true
			}
			p.Value = f
		case "ts":
			p.hasTS = true
			p.TS, p.TSNumber, p.badTS = jsonTS(m.value)
		case "dims":
			if m.value.kind != jObject {
				p.badDims = true
				break
			}
			for _, d := range m.value.members {
				if d.value.kind != jString {
					p.badDims = true
				}
				p.Dims = append(p.Dims, Dim{d.name, d.value.text})
			}
		}
	}
	return p, ""
}

// jsonTS reads ts: an integer of unix milliseconds or RFC 3339 text. bad
// is set for anything else (a fraction, an exponent, an integer beyond
// int64, other text): no such time is in range.
func jsonTS(v jvalue) (ts int64, number, bad bool) {
	switch v.kind {
	case jNumber:
		for _, c := range v.text {
			if c == '.' || c == 'e' || c == 'E' {
				return 0, true, true
			}
		}
		n, err := strconv.ParseInt(v.text, 10, 64)
		return n, true, err != nil
	case jString:
		n, ok := parseRFC3339(v.text)
		return n, false, !ok
	}
	return 0, false, true
}

// Protobuf countlab.v1.Event field numbers (engine/event/event.proto).
const (
	pbID    = 1
	pbKey   = 2
	pbType  = 3
	pbValue = 4
	pbTS    = 5
	pbDims  = 6
)

// decodeProto runs checks 1 and 2 on a protobuf countlab.v1.Event and
// decodes it by protobuf's rules, as the contract's rows for JSON members
// (field_unknown, field_duplicate) do not apply to it: an unknown field
// is skipped, a field given twice takes the last value (a dims key given
// twice too); a known field with the wrong wire type, or bytes that are
// not protobuf, are syntax. A field at its proto3 default is absent when
// it is not on the wire; an empty id, key or type is missing either way.
func decodeProto(b []byte) (partial, string) {
	var p partial
	if len(b) == 0 {
		return p, CodeSyntax
	}
	badUTF := false
	want := map[protowire.Number]protowire.Type{pbID: protowire.BytesType, pbKey: protowire.BytesType,
		pbType: protowire.BytesType, pbValue: protowire.Fixed64Type, pbTS: protowire.VarintType, pbDims: protowire.BytesType}
	dims := map[string]int{} // name -> index in p.Dims
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return p, CodeSyntax
		}
		b = b[n:]
		wt, known := want[num]
		if !known {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return p, CodeSyntax
			}
			b = b[n:]
			continue
		}
		if typ != wt {
			return p, CodeSyntax
		}
		switch num {
		case pbID, pbKey, pbType:
			s, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return p, CodeSyntax
			}
			b = b[n:]
			badUTF = badUTF || !validUTF8(s)
			switch num {
			case pbID:
				p.ID, p.hasID = string(s), true
			case pbKey:
				p.Key, p.hasKey = string(s), true
			default:
				p.Type, p.hasType = string(s), true
			}
		case pbValue:
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return p, CodeSyntax
			}
			b = b[n:]
			p.Value, p.HasValue = math.Float64frombits(v), true
		case pbTS:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return p, CodeSyntax
			}
			b = b[n:]
			p.TS, p.TSNumber, p.hasTS = int64(v), true, true
		case pbDims:
			entry, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return p, CodeSyntax
			}
			b = b[n:]
			d, bad, ok := protoDim(entry)
			if !ok {
				return p, CodeSyntax
			}
			badUTF = badUTF || bad
			if i, ok := dims[d.Name]; ok {
				p.Dims[i] = d
				continue
			}
			dims[d.Name] = len(p.Dims)
			p.Dims = append(p.Dims, d)
		}
	}
	if badUTF {
		return p, CodeUTF8
	}
	return p, ""
}

// protoDim decodes one map<string,string> entry (protobuf's rules: an
// unknown field skipped, the last of a repeated one).
func protoDim(b []byte) (d Dim, badUTF, ok bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return d, false, false
		}
		b = b[n:]
		if num != 1 && num != 2 {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return d, false, false
			}
			b = b[n:]
			continue
		}
		if typ != protowire.BytesType {
			return d, false, false
		}
		s, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return d, false, false
		}
		b = b[n:]
		badUTF = badUTF || !validUTF8(s)
		if num == 1 {
			d.Name = string(s)
		} else {
			d.Value = string(s)
		}
	}
	return d, badUTF, true
}

// decodeRecord tells JSON from protobuf as the engine's entry points do: a
// value whose first byte after JSON whitespace is '{' is JSON, except that
// "\n{" may also start a protobuf Event with a 123-byte id (0x0A is field
// 1's tag and JSON whitespace): then the protobuf reading is taken when
// the JSON one is a syntax error and the protobuf one is not.
func decodeRecord(b []byte) (partial, string) {
	i := 0
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	switch {
	case len(b) == 0:
		return partial{}, CodeSyntax
	case i < len(b) && b[i] == '{':
		p, code := decodeJSON(b)
		if code == CodeSyntax && b[0] == '\n' {
			if pp, pcode := decodeProto(b); pcode != CodeSyntax {
				return pp, pcode
			}
		}
		return p, code
	case !isJSONSpace(b[0]) || b[0] == '\n':
		return decodeProto(b)
	}
	return partial{}, CodeSyntax
}

// beyondMax reports whether the decimal number text is, taken exactly,
// beyond ±2^53.
func beyondMax(text string) bool {
	exact, ok := new(big.Rat).SetString(text)
	return ok && exact.Abs(exact).Cmp(big.NewRat(maxValue, 1)) > 0
}
