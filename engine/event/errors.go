package event

import (
	"strconv"
	"unicode/utf8"
)

// Error is why an event could not be decoded or is not valid: a malformed
// event. Every decode and validation failure of this package is an *Error
// (use errors.As). Its text, "field: reason", is what the dead-letter topic's
// reason header and the ingest gateway's per-event error carry, so it names
// the field and says what a correct value looks like.
type Error struct {
	// Field is the offending field as named in JSON ("id", "ts",
	// "dims.country"), or "json"/"proto"/"batch" for a syntax error of the
	// encoding itself, or "event" for the event as a whole.
	Field string
	// Reason says what is wrong and what is expected.
	Reason string
}

// Error returns "field: reason".
func (e *Error) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func errorf(field, reason string) *Error { return &Error{Field: field, Reason: reason} }

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
