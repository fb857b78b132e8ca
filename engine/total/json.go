package total

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// The aggregates record value is the JSON of Total exactly as
// encoding/json writes it (field order, omitempty, HTML escaping and
// float formatting included), so records written by any version stay
// readable. AppendJSON writes it without reflection; Unmarshal reads the
// canonical form (any field order, JSON whitespace, plain strings) by
// hand and hands anything else (escapes in strings, null, unknown or
// differently cased fields, numbers strconv rejects) to encoding/json, so
// it accepts and rejects exactly what encoding/json does.

// ErrNotFinite is the error of encoding a total whose sum, min or max is
// NaN or infinite. JSON cannot express it, and writing anything else (0)
// would serve a wrong total; the event validator keeps |value| <= 2^53 so
// that no sum overflows.
var ErrNotFinite = errors.New("total: sum, min or max is not a finite number")

// Marshal encodes t as the JSON value of its aggregates record. It fails
// (errors.Is(err, ErrNotFinite)) when Sum, Min or Max is not finite.
func (t *Total) Marshal() ([]byte, error) {
	b, err := t.AppendJSON(make([]byte, 0, 128+len(t.Key)+len(t.Type)+len(t.DimSet)))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// AppendJSON appends t encoded as Marshal encodes it; on error it returns
// dst unchanged.
func (t *Total) AppendJSON(dst []byte) ([]byte, error) {
	if !finite(t.Sum) || !finite(t.Min) || !finite(t.Max) {
		return dst, fmt.Errorf("%w: %s %s %q window %d+%dms: sum %v, min %v, max %v", ErrNotFinite, t.Type, SizeName(t.Size), t.Key, t.Start, t.Size, t.Sum, t.Min, t.Max)
	}
	dst = append(dst, `{"key":`...)
	dst = appendString(dst, t.Key)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, t.Type)
	if t.DimSet != "" {
		dst = append(dst, `,"dims":`...)
		dst = appendString(dst, t.DimSet)
	}
	dst = append(dst, `,"sub":`...)
	dst = strconv.AppendInt(dst, int64(t.Sub), 10)
	dst = append(dst, `,"start":`...)
	dst = strconv.AppendInt(dst, t.Start, 10)
	dst = append(dst, `,"size":`...)
	dst = strconv.AppendInt(dst, t.Size, 10)
	dst = append(dst, `,"count":`...)
	dst = strconv.AppendInt(dst, t.Count, 10)
	dst = append(dst, `,"sum":`...)
	dst = appendFloat(dst, t.Sum)
	dst = append(dst, `,"min":`...)
	dst = appendFloat(dst, t.Min)
	dst = append(dst, `,"max":`...)
	dst = appendFloat(dst, t.Max)
	if t.Closed {
		dst = append(dst, `,"closed":true`...)
	}
	return append(dst, '}'), nil
}

func finite(f float64) bool { return !math.IsInf(f, 0) && !math.IsNaN(f) }

// appendFloat formats the finite f as encoding/json formats a float64:
// %f-style unless the exponent is < -6 or >= 21, then %e with "e-09"
// cleaned up to "e-9".
func appendFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	if abs < 1<<53 && f == math.Trunc(f) && (f != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(dst, int64(f), 10) // what 'f' prints for an exact integer, faster (most counts, sums and extremes)
	}
	fmtc := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtc = 'e'
	}
	dst = strconv.AppendFloat(dst, f, fmtc, -1, 64)
	if fmtc == 'e' {
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string escaped as encoding/json
// escapes it (HTML characters too; invalid UTF-8 as U+FFFD).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Unmarshal decodes an aggregates record value. The canonical form costs
// one allocation (one string holding Key, Type and DimSet).
func Unmarshal(b []byte) (Total, error) {
	t, ok := decodeFast(b)
	if !ok {
		var err error
		if t, err = decodeJSON(b); err != nil {
			return t, err
		}
	}
	if t.Size <= 0 || t.Key == "" || t.Type == "" {
		return t, fmt.Errorf("total: missing key, type or size in %q", b)
	}
	return t, nil
}

// decodeJSON decodes b with encoding/json (kept apart so that the fast
// path's Total stays off the heap).
func decodeJSON(b []byte) (Total, error) {
	t := new(Total)
	if err := json.Unmarshal(b, t); err != nil {
		return *t, fmt.Errorf("total: %w", err)
	}
	return *t, nil
}

// Field names of the record, as encoding/json names them.
const (
	fKey = iota
	fType
	fDims
	fSub
	fStart
	fSize
	fCount
	fSum
	fMin
	fMax
	fClosed
)

// field is the field named by the JSON key name (exact match), or -1.
func field(name []byte) int {
	switch string(name) { // no allocation: compared in place
	case "key":
		return fKey
	case "type":
		return fType
	case "dims":
		return fDims
	case "sub":
		return fSub
	case "start":
		return fStart
	case "size":
		return fSize
	case "count":
		return fCount
	case "sum":
		return fSum
	case "min":
		return fMin
	case "max":
		return fMax
	case "closed":
		return fClosed
	}
	return -1
}

// decoder reads one JSON object from b; ok false means "not the
// canonical form, ask encoding/json".
type decoder struct {
	b []byte
	i int
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// str reads a JSON string without escapes or control characters and
// with valid UTF-8, returning its contents.
func (d *decoder) str() ([]byte, bool) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.b); j++ {
		c := d.b[j]
		switch {
		case c == '"':
			s := d.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, false // encoding/json replaces invalid UTF-8
			}
			d.i = j + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// number reads a JSON number (RFC 8259 grammar); isInt reports that it
// has neither fraction nor exponent.
func (d *decoder) number() (num []byte, isInt, ok bool) {
	b, i := d.b, d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return nil, false, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return nil, false, false
	}
	isInt = true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return nil, false, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return nil, false, false
		}
	}
	num = b[d.i:i]
	d.i = i
	return num, isInt, true
}

// parseInt parses an integer literal of at most 18 digits (no overflow
// possible); longer ones go to encoding/json.
func parseInt(num []byte) (int64, bool) {
	neg := num[0] == '-'
	if neg {
		num = num[1:]
	}
	if len(num) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range num {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func parseFloat(num []byte) (float64, bool) {
	// The string does not outlive the call: the error, which would hold
	// it, is dropped.
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(num), len(num)), 64)
	return f, err == nil
}

// decodeFast decodes the canonical form of a record value.
func decodeFast(b []byte) (Total, bool) {
	var t Total
	d := decoder{b: b}
	var strs [3][]byte // key, type, dims
	d.ws()
	if d.i >= len(b) || b[d.i] != '{' {
		return t, false
	}
	d.i++
	d.ws()
	if d.i < len(b) && b[d.i] == '}' {
		d.i++
	} else {
		for {
			d.ws()
			name, ok := d.str()
			if !ok {
				return t, false
			}
			f := field(name)
			if f < 0 {
				return t, false // unknown, or a case-insensitive match
			}
			d.ws()
			if d.i >= len(b) || b[d.i] != ':' {
				return t, false
			}
			d.i++
			d.ws()
			switch f {
			case fKey, fType, fDims:
				s, ok := d.str()
				if !ok {
					return t, false
				}
				strs[f] = s
			case fClosed:
				switch {
				case len(b)-d.i >= 4 && string(b[d.i:d.i+4]) == "true":
					t.Closed = true
					d.i += 4
				case len(b)-d.i >= 5 && string(b[d.i:d.i+5]) == "false":
					t.Closed = false
					d.i += 5
				default:
					return t, false
				}
			default:
				num, isInt, ok := d.number()
				if !ok {
					return t, false
				}
				if f <= fCount {
					if !isInt {
						return t, false
					}
					n, ok := parseInt(num)
					if !ok {
						return t, false
					}
					switch f {
					case fSub:
						t.Sub = int(n)
					case fStart:
						t.Start = n
					case fSize:
						t.Size = n
					case fCount:
						t.Count = n
					}
					break
				}
				v, ok := parseFloat(num)
				if !ok {
					return t, false
				}
				switch f {
				case fSum:
					t.Sum = v
				case fMin:
					t.Min = v
				case fMax:
					t.Max = v
				}
			}
			d.ws()
			if d.i >= len(b) {
				return t, false
			}
			if b[d.i] == ',' {
				d.i++
				continue
			}
			if b[d.i] != '}' {
				return t, false
			}
			d.i++
			break
		}
	}
	d.ws()
	if d.i != len(b) {
		return t, false
	}
	n := len(strs[0]) + len(strs[1]) + len(strs[2])
	if n > 0 {
		buf := make([]byte, 0, n)
		buf = append(buf, strs[0]...)
		buf = append(buf, strs[1]...)
		buf = append(buf, strs[2]...)
		s := unsafe.String(unsafe.SliceData(buf), n) // buf is never written again
		a, c := len(strs[0]), len(strs[0])+len(strs[1])
		t.Key, t.Type, t.DimSet = s[:a], s[a:c], s[c:]
	}
	return t, true
}
