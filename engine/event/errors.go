package event

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// Error is why an event could not be decoded or is not valid: a malformed
// event. Every decode and validation failure of this package is an *Error
// (use errors.As). Its text, "field: reason", is what the dead-letter topic's
// reason header and the ingest gateway's per-event error carry, so it names
// the field and says what a correct value looks like.
type Error struct {
	// Code is the reason code of docs/ingest-contract.md (one of the Code
	// constants): what the gateway's per-event "reason" and the
	// dead-letter header countlab-reason-code carry.
	Code string
	// Field is the offending field as named in JSON ("id", "ts",
	// "dims.country"), or "json"/"proto"/"batch" for a syntax error of the
	// encoding itself, or "event" for the event as a whole.
	Field string
	// Reason says what is wrong and what is expected.
	Reason string

	// types, set by the JSON decoder on an error about a member of the
	// wrong JSON type, are all such members of the event, for
	// Validator.ValidateDecodedAt.
	types *fieldTypes
}

// Error returns "field: reason".
func (e *Error) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func errorf(code, field, reason string) *Error {
	return &Error{Code: code, Field: field, Reason: reason}
}

// Reason codes of docs/ingest-contract.md, in the order the checks run:
// the first check that fails decides the code.
const (
	// CodeSyntax: not one JSON object or protobuf Event (bad JSON, wrong
	// protobuf wire type, truncated, trailing bytes).
	CodeSyntax = "syntax"
	// CodeUTF8: a string holds bytes that are not UTF-8, or a JSON \u
	// escape of a lone surrogate. Never rewritten to U+FFFD.
	CodeUTF8 = "utf8"
	// CodeFieldUnknown: a JSON member other than id, key, type, value,
	// ts, dims.
	CodeFieldUnknown = "field_unknown"
	// CodeFieldDuplicate: a JSON member (or a dimension name) given twice.
	CodeFieldDuplicate = "field_duplicate"
	// CodeFieldMissing: no (or an empty) id, key or type, or no ts.
	CodeFieldMissing = "field_missing"
	// CodeID: id too long, or not a JSON string.
	CodeID = "id"
	// CodeKey: key too long, with a control character or a backslash, or not
	// a JSON string.
	CodeKey = "key"
	// CodeType: not an accepted type, or not a JSON string.
	CodeType = "type"
	// CodeValue: value not a finite number within ±2^53.
	CodeValue = "value"
	// CodeTSUnit: ts is a number in the wrong unit (seconds,
	// microseconds or nanoseconds instead of milliseconds).
	CodeTSUnit = "ts_unit"
	// CodeTSFuture: ts later than the reference time plus the maximum
	// future skew.
	CodeTSFuture = "ts_future"
	// CodeTSTooOld: ts earlier than the reference time minus the maximum
	// age.
	CodeTSTooOld = "ts_too_old"
	// CodeTSRange: ts <= 0, a window of ts ending after
	// 2262-04-11T23:47:16Z (InfluxDB's last timestamp), or ts neither RFC
	// 3339 text nor an integer.
	CodeTSRange = "ts_range"
	// CodeDims: bad dimensions (too many, bad name or value, not an
	// object of strings).
	CodeDims = "dims"
)

// HeaderReasonCode is the dead-letter record header that carries an
// *Error's Code (the header countlab-reason carries its text).
const HeaderReasonCode = "countlab-reason-code"

// ErrorCode is the Code of the *Error in err's chain, or "" when there is
// none.
func ErrorCode(err error) string {
	if err == nil {
		return "" // without the errors.As below, which allocates e
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// maxQuoted is how many bytes of a user-supplied string an error message
// quotes at most, so a huge bad input makes a short reason.
const maxQuoted = 64

// quote returns s quoted for an error message, cut to maxQuoted bytes.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

// quoteByte describes the byte c for an error message: 'x' or 0x0a.
func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	const hex = "0123456789abcdef"
	return "0x" + string([]byte{hex[c>>4], hex[c&15]})
}

// plainName reports whether s can name a field in an error as it is: ASCII
// letters, digits, '_', '-' and '.', at most maxQuoted bytes.
func plainName(s string) bool {
	if s == "" || len(s) > maxQuoted {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// dimField is the Field of an error about the dimension named name:
// "dims.name", or "dims" when the name itself is not plain.
func dimField(name string) string {
	if plainName(name) {
		return "dims." + name
	}
	return "dims"
}
