package event

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonScanner is a small JSON scanner over b from offset i: whitespace,
// strings (unescaped into buf), numbers, literals, and skipping any value.
// It accepts exactly RFC 8259 JSON, like encoding/json, and unescapes
// strings the way encoding/json does (invalid UTF-8 and unpaired surrogates
// become U+FFFD).
type jsonScanner struct {
	b   []byte
	i   int
	buf []byte
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// ws skips whitespace.
func (s *jsonScanner) ws() {
	for s.i < len(s.b) && s.b[s.i] <= ' ' && isSpace(s.b[s.i]) {
		s.i++
	}
}

// syntaxErr is the error for the byte at s.i, which is not what was
// expected.
func (s *jsonScanner) syntaxErr(expected string) error {
	at := " at byte " + strconv.Itoa(s.i)
	if s.i >= len(s.b) {
		return errorf("json", "unexpected end of input"+at+" (truncated?), expected "+expected)
	}
	return errorf("json", "invalid character "+quoteByte(s.b[s.i])+at+", expected "+expected)
}

// str scans the string at s.i, which must be '"', and appends its value to
// s.buf.
func (s *jsonScanner) str() error {
	b := s.b
	i := s.i + 1
	start := i
	// Fast path: printable ASCII without escapes.
	for ; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			s.buf = append(s.buf, b[start:i]...)
			s.i = i + 1
			return nil
		}
		if c < 0x20 || c == '\\' || c >= utf8.RuneSelf {
			break
		}
	}
	s.buf = append(s.buf, b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			return nil
		case c == '\\':
			if i+1 >= len(b) {
				s.i = len(b)
				return s.syntaxErr("an escape sequence")
			}
			switch b[i+1] {
			case '"', '\\', '/':
				s.buf = append(s.buf, b[i+1])
			case 'b':
				s.buf = append(s.buf, '\b')
			case 'f':
				s.buf = append(s.buf, '\f')
			case 'n':
				s.buf = append(s.buf, '\n')
			case 'r':
				s.buf = append(s.buf, '\r')
			case 't':
				s.buf = append(s.buf, '\t')
			case 'u':
				r := hex4(b, i+2)
				if r < 0 {
					s.i = i
					return errorf("json", "invalid \\u escape at byte "+strconv.Itoa(i)+", expected \\u and four hex digits")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						r2 = hex4(b, i+2)
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				s.buf = utf8.AppendRune(s.buf, r)
				continue
			default:
				s.i = i
				return errorf("json", "invalid escape "+strconv.Quote(string(b[i:i+2]))+" at byte "+strconv.Itoa(i)+`, expected one of \" \\ \/ \b \f \n \r \t \uXXXX`)
			}
			i += 2
		case c < 0x20:
			s.i = i
			return errorf("json", "control character "+quoteByte(c)+" in a string at byte "+strconv.Itoa(i)+", escape it (\\n, \\t, \\u00XX)")
		case c < utf8.RuneSelf:
			s.buf = append(s.buf, c)
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				s.buf = append(s.buf, "\uFFFD"...)
			} else {
				s.buf = append(s.buf, b[i:i+n]...)
			}
			i += n
		}
	}
	s.i = len(b)
	return s.syntaxErr(`'"' closing the string`)
}

// hex4 is the value of the four hex digits at b[i:], or -1.
func hex4(b []byte, i int) rune {
	if i+4 > len(b) {
		return -1
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// number scans the number at s.i and returns its text; isInt reports that
// it has neither a fraction nor an exponent.
func (s *jsonScanner) number() (num []byte, isInt bool, err error) {
	b := s.b
	start := s.i
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	default:
		s.i = i
		return nil, false, s.syntaxErr("a digit")
	}
	isInt = true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.i = i
			return nil, false, s.syntaxErr("a digit after '.'")
		}
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.i = i
			return nil, false, s.syntaxErr("a digit in the exponent")
		}
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	}
	s.i = i
	return b[start:i], isInt, nil
}

// literal scans the literal word (true, false, null) at s.i.
func (s *jsonScanner) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if s.i >= len(s.b) || s.b[s.i] != word[k] {
			return s.syntaxErr("a JSON value")
		}
		s.i++
	}
	return nil
}

// skipValue scans over any one JSON value at s.i (after whitespace),
// checking its syntax. It is iterative, so nesting depth costs one bit
// each, not stack frames.
func (s *jsonScanner) skipValue() error {
	var small [8]uint64
	stack := small[:0] // bit set: object (1) or array (0), per depth
	depth := 0
	push := func(obj bool) {
		if depth/64 == len(stack) {
			stack = append(stack, 0)
		}
		if obj {
			stack[depth/64] |= 1 << (depth % 64)
		} else {
			stack[depth/64] &^= 1 << (depth % 64)
		}
		depth++
	}
	inObject := func() bool { return stack[(depth-1)/64]&(1<<((depth-1)%64)) != 0 }
	needKey := false
	for {
		s.ws()
		if needKey {
			if s.i >= len(s.b) || s.b[s.i] != '"' {
				return s.syntaxErr("a string (object key)")
			}
			if err := s.skipString(); err != nil {
				return err
			}
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return s.syntaxErr("':' after an object key")
			}
			s.i++
			s.ws()
			needKey = false
		}
		if s.i >= len(s.b) {
			return s.syntaxErr("a JSON value")
		}
		// One value.
		switch c := s.b[s.i]; {
		case c == '{':
			s.i++
			s.ws()
			if s.i < len(s.b) && s.b[s.i] == '}' {
				s.i++
				break
			}
			push(true)
			needKey = true
			continue
		case c == '[':
			s.i++
			s.ws()
			if s.i < len(s.b) && s.b[s.i] == ']' {
				s.i++
				break
			}
			push(false)
			continue
		case c == '"':
			if err := s.skipString(); err != nil {
				return err
			}
		case c == 't':
			if err := s.literal("true"); err != nil {
				return err
			}
		case c == 'f':
			if err := s.literal("false"); err != nil {
				return err
			}
		case c == 'n':
			if err := s.literal("null"); err != nil {
				return err
			}
		case c == '-' || c >= '0' && c <= '9':
			if _, _, err := s.number(); err != nil {
				return err
			}
		default:
			return s.syntaxErr("a JSON value")
		}
		// After a value: close containers, or go on to the next element.
		for {
			if depth == 0 {
				return nil
			}
			s.ws()
			if s.i >= len(s.b) {
				return s.syntaxErr("',' or a closing bracket")
			}
			c := s.b[s.i]
			obj := inObject()
			if c == ',' {
				s.i++
				needKey = obj
				break
			}
			if obj && c == '}' || !obj && c == ']' {
				s.i++
				depth--
				continue
			}
			if obj {
				return s.syntaxErr("',' or '}'")
			}
			return s.syntaxErr("',' or ']'")
		}
	}
}

// skipString scans over the string at s.i, checking its syntax, without
// keeping its value.
func (s *jsonScanner) skipString() error {
	b := s.b
	for i := s.i + 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return nil
		case c == '\\', c < 0x20:
			// Rare: let str check the escapes, then drop the value.
			mark := len(s.buf)
			err := s.str()
			s.buf = s.buf[:mark]
			return err
		}
	}
	s.i = len(b)
	return s.syntaxErr(`'"' closing the string`)
}
