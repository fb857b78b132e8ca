package event

import (
	"math"
	"strconv"
	"unicode/utf8"
)

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
