package event

import (
	"errors"
	"math/bits"
	"strconv"
	"strings"
)

// The JSON decoder's errors, and the id and key it reports for an event
// that failed.

// utf8Err is the error for the first bad string byte the scanner found.
func (d *jsonDecoder) utf8Err() error {
	return errorf(CodeUTF8, "json", "a string holds invalid UTF-8 or a \\u escape of a lone surrogate at byte "+strconv.Itoa(d.badUTF8-1)+"; strings must be valid UTF-8 (they are never rewritten to U+FFFD)")
}

// sentIDKey sets e.ID and e.Key to the string members id and key of the
// object at start, as sent (the first of each), for the report of an event
// that failed.
func (d *jsonDecoder) sentIDKey(start int, e *Event) {
	e.ID, e.Key = "", ""
	d.i = start
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		return
	}
	d.i++
	var got uint8
	for {
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return
		}
		sp, err := d.str()
		if err != nil {
			return
		}
		name := string(d.bytes(sp))
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return
		}
		d.i++
		d.ws()
		if (name == "id" || name == "key") && d.i < len(d.b) && d.b[d.i] == '"' {
			v, err := d.str()
			if err != nil {
				return
			}
			switch {
			case name == "id" && got&fieldID == 0:
				e.ID, got = string(d.bytes(v)), got|fieldID
			case name == "key" && got&fieldKey == 0:
				e.Key, got = string(d.bytes(v)), got|fieldKey
			}
		} else if d.skipValue() != nil {
			return
		}
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != ',' {
			return
		}
		d.i++
	}
}

// fieldTypes are the errors about the members of the wrong JSON type
// ("value":"1", "ts":1.5, "dims":[]), by field in the contract's order id,
// key, type, value, ts, dims. Validator.ValidateDecodedAt refuses each at
// its field's place in the order of the checks.
type fieldTypes [6]*Error

// fieldIndex is the index in fieldTypes of the member bit f.
func fieldIndex(f uint8) int { return bits.TrailingZeros8(f) }

// set keeps err, an *Error, about the member f.
func (t *fieldTypes) set(f uint8, err error) {
	var e *Error
	if errors.As(err, &e) {
		t[fieldIndex(f)] = e
	}
}

// at is the error about the member f, or nil.
func (t *fieldTypes) at(f uint8) error {
	if t == nil || t[fieldIndex(f)] == nil {
		return nil
	}
	return t[fieldIndex(f)]
}

// err is nil when every member has its JSON type, else a copy of the first
// error that carries all of them.
func (t *fieldTypes) err() error {
	for _, e := range t {
		if e != nil {
			all := *t
			out := *e
			out.types = &all
			return &out
		}
	}
	return nil
}

func unknownField(name string) error {
	hint := ""
	for _, known := range []string{"id", "key", "type", "value", "ts", "dims"} {
		if strings.EqualFold(name, known) {
			hint = "; field names are lower case: " + known
		}
	}
	if plainName(name) {
		return errorf(CodeFieldUnknown, name, "unknown field ("+knownFields+")"+hint)
	}
	return errorf(CodeFieldUnknown, "json", "unknown field "+quote(name)+" ("+knownFields+")"+hint)
}

func missingErr(field string) error {
	return errorf(CodeFieldMissing, field, "missing; the fields id, key, type and ts are required")
}
