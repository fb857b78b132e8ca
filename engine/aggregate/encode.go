package aggregate

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/total"
)

// outBatch allocates the records a commit produces in slabs: records from
// a slice, keys and values from a byte arena, so a commit of thousands of
// totals costs a few allocations. kgo keeps the records until they are
// acknowledged; a slab is never reused, only dropped when full.
type outBatch struct {
	recs  []kgo.Record
	arena []byte
}

const (
	slabRecords = 1024
	arenaBytes  = 256 << 10
)

func (o *outBatch) record() *kgo.Record {
	if len(o.recs) == cap(o.recs) {
		o.recs = make([]kgo.Record, 0, slabRecords)
	}
	o.recs = o.recs[:len(o.recs)+1]
	return &o.recs[len(o.recs)-1]
}

// bytes returns b appended to the arena (a stable sub-slice).
func (o *outBatch) bytes(b []byte) []byte {
	if cap(o.arena)-len(o.arena) < len(b) {
		o.arena = make([]byte, 0, max(arenaBytes, len(b)))
	}
	s := len(o.arena)
	o.arena = append(o.arena, b...)
	return o.arena[s:len(o.arena):len(o.arena)]
}

// appendTotalJSON appends t encoded exactly as total.Marshal encodes it
// (encoding/json of total.Total, field order and omitempty included),
// without reflection. TestAppendTotalJSON checks the two agree byte for
// byte.
func appendTotalJSON(dst []byte, t *total.Total) []byte {
	dst = append(dst, `{"key":`...)
	dst = appendJSONString(dst, t.Key)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, t.Type)
	if t.DimSet != "" {
		dst = append(dst, `,"dims":`...)
		dst = appendJSONString(dst, t.DimSet)
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
	dst = appendJSONFloat(dst, t.Sum)
	dst = append(dst, `,"min":`...)
	dst = appendJSONFloat(dst, t.Min)
	dst = append(dst, `,"max":`...)
	dst = appendJSONFloat(dst, t.Max)
	if t.Closed {
		dst = append(dst, `,"closed":true`...)
	}
	return append(dst, '}')
}

// appendJSONFloat formats like encoding/json (float64): %f-style unless
// the exponent is < -6 or >= 21, then %e with a two-digit minimum
// exponent cleaned up the same way.
func appendJSONFloat(dst []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		// encoding/json fails on these; totals never hold them (the
		// validator rejects non-finite values). Write 0 rather than
		// invalid JSON.
		return append(dst, '0')
	}
	abs := math.Abs(f)
	fmtc := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtc = 'e'
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, fmtc, -1, 64)
	if fmtc == 'e' {
		// clean up e-09 to e-9
		m := len(dst) - n
		if m >= 4 && dst[len(dst)-4] == 'e' && dst[len(dst)-3] == '-' && dst[len(dst)-2] == '0' {
			dst[len(dst)-2] = dst[len(dst)-1]
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendJSONString escapes like encoding/json with HTML escaping on.
func appendJSONString(dst []byte, s string) []byte {
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
