package oracle

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The oracle's own JSON reading: a strict RFC 8259 parser into a small tree
// that keeps what encoding/json hides (invalid UTF-8 and lone surrogates
// are flagged, not replaced by U+FFFD; duplicate members are kept).

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

type jvalue struct {
	kind    jkind
	text    string // jString: the unescaped value; jNumber: the literal
	members []jmember
	elems   []jvalue
}

type jmember struct {
	name  string
	value jvalue
}

// maxDepth bounds nesting (deeper is a syntax error).
const maxDepth = 10000

type jparser struct {
	b      []byte
	i      int
	badUTF bool // a string held invalid UTF-8 or a lone surrogate
}

// parseJSON parses b as exactly one JSON value (whitespace around it).
func parseJSON(b []byte) (v jvalue, badUTF, ok bool) {
	p := &jparser{b: b}
	p.ws()
	v, ok = p.value(0)
	if !ok {
		return v, false, false
	}
	p.ws()
	if p.i != len(b) {
		return v, false, false
	}
	return v, p.badUTF, true
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *jparser) ws() {
	for p.i < len(p.b) && isJSONSpace(p.b[p.i]) {
		p.i++
	}
}

func (p *jparser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

func (p *jparser) value(depth int) (jvalue, bool) {
	if p.i >= len(p.b) || depth > maxDepth {
		return jvalue{}, false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		p.i++
		v := jvalue{kind: jArray}
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return v, true
		}
		for {
			p.ws()
			e, ok := p.value(depth + 1)
			if !ok {
				return v, false
			}
			v.elems = append(v.elems, e)
			p.ws()
			if p.i >= len(p.b) {
				return v, false
			}
			if p.b[p.i] == ']' {
				p.i++
				return v, true
			}
			if p.b[p.i] != ',' {
				return v, false
			}
			p.i++
		}
	case c == '"':
		s, ok := p.str()
		return jvalue{kind: jString, text: s}, ok
	case c == 't':
		return jvalue{kind: jBool, text: "true"}, p.lit("true")
	case c == 'f':
		return jvalue{kind: jBool, text: "false"}, p.lit("false")
	case c == 'n':
		return jvalue{kind: jNull}, p.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return jvalue{}, false
}

func (p *jparser) object(depth int) (jvalue, bool) {
	p.i++ // '{'
	v := jvalue{kind: jObject}
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return v, true
	}
	for {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return v, false
		}
		name, ok := p.str()
		if !ok {
			return v, false
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return v, false
		}
		p.i++
		p.ws()
		mv, ok := p.value(depth + 1)
		if !ok {
			return v, false
		}
		v.members = append(v.members, jmember{name, mv})
		p.ws()
		if p.i >= len(p.b) {
			return v, false
		}
		if p.b[p.i] == '}' {
			p.i++
			return v, true
		}
		if p.b[p.i] != ',' {
			return v, false
		}
		p.i++
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *jparser) digits() int {
	n := 0
	for p.i < len(p.b) && isDigit(p.b[p.i]) {
		p.i++
		n++
	}
	return n
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jparser) number() (jvalue, bool) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i >= len(p.b) || !isDigit(p.b[p.i]) {
		return jvalue{}, false
	}
	if p.b[p.i] == '0' {
		p.i++
	} else {
		p.digits()
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return jvalue{}, false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return jvalue{}, false
		}
	}
	return jvalue{kind: jNumber, text: string(p.b[start:p.i])}, true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

// str scans a string at p.i ('"'). Invalid UTF-8 and lone surrogate escapes
// set p.badUTF; the value keeps the raw bytes (never U+FFFD).
func (p *jparser) str() (string, bool) {
	p.i++ // '"'
	var out []byte
	for {
		if p.i >= len(p.b) {
			return "", false
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), true
		case c < 0x20:
			return "", false
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return "", false
			}
			e := p.b[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(p.b[p.i:])
				if !ok {
					return "", false
				}
				p.i += 4
				if utf16.IsSurrogate(r) {
					if r < 0xDC00 && len(p.b)-p.i >= 6 && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						if r2, ok := hex4(p.b[p.i+2:]); ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
							p.i += 6
							out = utf8.AppendRune(out, utf16.DecodeRune(r, r2))
							continue
						}
					}
					p.badUTF = true
					out = append(out, '?')
					continue
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", false
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			p.i++
		default:
			r, n := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && n <= 1 {
				p.badUTF = true
			}
			out = append(out, p.b[p.i:p.i+n]...)
			p.i += n
		}
	}
}
