package oracle

import (
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

func validUTF8(b []byte) bool { return utf8.Valid(b) }

// fromEvent is a harness event as a decoded one (checks 2 and 3 for what
// an Event can hold: invalid UTF-8 and a dimension name twice).
func fromEvent(e *Event, proto bool) (partial, string) {
	p := partial{Event: *e}
	p.Dims = append([]Dim(nil), e.Dims...)
	ok := utf8.ValidString(e.ID) && utf8.ValidString(e.Key) && utf8.ValidString(e.Type)
	for _, d := range e.Dims {
		ok = ok && utf8.ValidString(d.Name) && utf8.ValidString(d.Value)
	}
	dup := dupDimName(e.Dims)
	switch {
	case !ok:
		return p, CodeUTF8
	case dup:
		return p, CodeFieldDuplicate
	}
	p.hasID, p.hasKey, p.hasType = e.ID != "", e.Key != "", e.Type != ""
	// A zero ts is absent, unless it was sent as the JSON number 0.
	p.hasTS = e.TS != 0 || (e.TSNumber && !proto)
	if proto {
		p.TSNumber = true
	}
	return p, ""
}

// dupDimName says whether a dimension name comes twice: pairwise for
// the few dimensions events carry, with a set beyond.
func dupDimName(dims []Dim) bool {
	if len(dims) > 8 {
		names := make(map[string]bool, len(dims))
		for _, d := range dims {
			if names[d.Name] {
				return true
			}
			names[d.Name] = true
		}
		return false
	}
	for i := range dims {
		for j := range i {
			if dims[j].Name == dims[i].Name {
				return true
			}
		}
	}
	return false
}

// check runs checks 4 to 13 with the reference time ref (unix ms).
func (c *cfg) check(p *partial, ref int64) string {
	// 4: an empty id, key or type is as good as none.
	if !p.hasID || !p.badID && p.ID == "" || !p.hasKey || !p.badKey && p.Key == "" ||
		!p.hasType || !p.badType && p.Type == "" || !p.hasTS {
		return CodeFieldMissing
	}
	if p.badID || len(p.ID) > c.maxID {
		return CodeID
	}
	if p.badKey || len(p.Key) > c.maxKey || strings.ContainsRune(p.Key, '\\') || hasControl(p.Key) {
		return CodeKey
	}
	if p.badType || !c.types[p.Type] {
		return CodeType
	}
	if !p.HasValue {
		p.Value = 1
	}
	if p.badValue || math.IsNaN(p.Value) || math.IsInf(p.Value, 0) || math.Abs(p.Value) > maxValue {
		return CodeValue
	}
	if code := c.checkTS(p, ref); code != "" {
		return code
	}
	if p.badDims || len(p.Dims) > c.maxDims {
		return CodeDims
	}
	for _, d := range p.Dims {
		if !dimName(d.Name) || d.Value == "" || len(d.Value) > c.maxDimValue ||
			strings.ContainsAny(d.Value, ",=|\\") || hasControl(d.Value) {
			return CodeDims
		}
	}
	return ""
}

// checkTS is checks 9 to 12.
func (c *cfg) checkTS(p *partial, ref int64) string {
	if p.badTS {
		return CodeTSRange
	}
	ts := p.TS
	if p.TSNumber && !c.tsInRange(ts, ref) {
		if ts <= math.MaxInt64/1000 && ts >= math.MinInt64/1000 && c.tsInRange(ts*1000, ref) ||
			c.tsInRange(ts/1000, ref) || c.tsInRange(ts/1000000, ref) {
			return CodeTSUnit
		}
	}
	switch {
	case ts > ref+c.skew:
		return CodeTSFuture
	case ts < ref-c.maxAge:
		return CodeTSTooOld
	case !c.tsStorable(ts):
		return CodeTSRange
	}
	return ""
}

// tsInRange says ts passes checks 10 to 12.
func (c *cfg) tsInRange(ts, ref int64) bool {
	return ts <= ref+c.skew && ts >= ref-c.maxAge && c.tsStorable(ts)
}

// tsStorable: after 1970 and every window of ts ends by maxWindowEnd.
func (c *cfg) tsStorable(ts int64) bool {
	if ts <= 0 {
		return false
	}
	for _, s := range c.sizes {
		if windowStart(ts, s) > maxWindowEnd-s {
			return false
		}
	}
	return true
}

// windowStart is the start of the epoch-aligned window of size s holding
// ts (floored for negative ts).
func windowStart(ts, s int64) int64 {
	m := ts % s
	if m < 0 {
		m += s
	}
	return ts - m
}

// hasControl: a C0 control, DEL or a C1 control.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r >= 0x7F && r <= 0x9F {
			return true
		}
	}
	return false
}

func dimName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// parseRFC3339 reads "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" strictly
// (T and Z in either case, as RFC 3339 section 5.6 allows; no leap
// second), the fraction truncated to ms.
func parseRFC3339(s string) (int64, bool) {
	num := func(a, b int) (int, bool) {
		if b > len(s) {
			return 0, false
		}
		n := 0
		for i := a; i < b; i++ {
			if !isDigit(s[i]) {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, true
	}
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	h, ok4 := num(11, 13)
	mi, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59 {
		return 0, false
	}
	if d > time.Date(y, time.Month(mo)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return 0, false
	}
	i, ms := 19, 0
	if s[i] == '.' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			if j-i <= 3 {
				ms = ms*10 + int(s[j]-'0')
			}
			j++
		}
		if j == i+1 {
			return 0, false
		}
		for k := j - i; k <= 3; k++ {
			ms *= 10
		}
		i = j
	}
	off := 0
	switch rest := s[i:]; {
	case rest == "Z" || rest == "z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := num(i+1, i+3)
		om, ok2 := num(i+4, i+6)
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		off = oh*3600 + om*60
		if rest[0] == '-' {
			off = -off
		}
	default:
		return 0, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	return (t.Unix()-int64(off))*1000 + int64(ms), true
}
