package event

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonScanner is a small JSON scanner over b from offset i: whitespace,
// strings, numbers, literals, and skipping any value. It accepts exactly
// RFC 8259 JSON, like encoding/json, and unescapes strings as
// encoding/json does, except that invalid UTF-8 and \u escapes of unpaired
// surrogates are not rewritten to U+FFFD: the scanner notes the first in
// badUTF8 and goes on (the caller refuses the input with code utf8).
type jsonScanner struct {
	b []byte
	i int
	// badUTF8 is 1 + the offset of the first invalid UTF-8 byte or lone
	// surrogate escape in a string, or 0.
	badUTF8 int
	// esc holds the values of strings that needed unescaping; the others
	// are read from b where they are.
	esc []byte
}

// span is where a scanned string's value is: b[lo:hi], or esc[lo:hi] when
// it had to be unescaped.
type span struct {
	lo, hi int32
	esc    bool
}

func (sp span) len() int { return int(sp.hi - sp.lo) }

// bytes is the value of the string at sp.
func (s *jsonScanner) bytes(sp span) []byte {
	if sp.esc {
		return s.esc[sp.lo:sp.hi]
	}
	return s.b[sp.lo:sp.hi]
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
		return errorf(CodeSyntax, "json", "unexpected end of input"+at+" (truncated?), expected "+expected)
	}
	return errorf(CodeSyntax, "json", "invalid character "+quoteByte(s.b[s.i])+at+", expected "+expected)
}

// strPlain[c] reports that c stands for itself in a JSON string: printable
// ASCII other than '"' and '\\'.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// specialBytes flags (with its high bit) each byte of the 8 in x that is
// not plain in a JSON string: '"', '\\', < 0x20 or >= 0x80. The lowest flag
// is exact; flags above it may be false (borrows), which str never reads.
func specialBytes(x uint64) uint64 {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lsb * '"')
	bs := x ^ (lsb * '\\')
	return ((x-lsb*0x20)&^x | (q-lsb)&^q | (bs-lsb)&^bs | x) & msb
}

// str scans the string at s.i, which must be '"', and returns where its
// value is.
func (s *jsonScanner) str() (span, error) {
	b := s.b
	i := s.i + 1
	start := i
	// Fast path: no escapes, valid UTF-8: the value is in b.
	for {
		for i+8 <= len(b) {
			if m := specialBytes(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(b) && strPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		if c == '"' {
			s.i = i + 1
			return span{lo: int32(start), hi: int32(i)}, nil
		}
		if c < utf8.RuneSelf {
			break // '\\' or a control character
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	esc := s.esc
	lo := len(esc)
	esc = append(esc, b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			s.esc = esc
			s.i = i + 1
			return span{lo: int32(lo), hi: int32(len(esc)), esc: true}, nil
		case c == '\\':
			if i+1 >= len(b) {
				s.i = len(b)
				return span{}, s.syntaxErr("an escape sequence")
			}
			switch b[i+1] {
			case '"', '\\', '/':
				esc = append(esc, b[i+1])
			case 'b':
				esc = append(esc, '\b')
			case 'f':
				esc = append(esc, '\f')
			case 'n':
				esc = append(esc, '\n')
			case 'r':
				esc = append(esc, '\r')
			case 't':
				esc = append(esc, '\t')
			case 'u':
				r := hex4(b, i+2)
				if r < 0 {
					s.i = i
					return span{}, errorf(CodeSyntax, "json", "invalid \\u escape at byte "+strconv.Itoa(i)+", expected \\u and four hex digits")
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
						s.noteBad(i - 6)
						r = utf8.RuneError
					}
				}
				esc = utf8.AppendRune(esc, r)
				continue
			default:
				s.i = i
				return span{}, errorf(CodeSyntax, "json", "invalid escape "+strconv.Quote(string(b[i:i+2]))+" at byte "+strconv.Itoa(i)+`, expected one of \" \\ \/ \b \f \n \r \t \uXXXX`)
			}
			i += 2
		case c < 0x20:
			s.i = i
			return span{}, errorf(CodeSyntax, "json", "control character "+quoteByte(c)+" in a string at byte "+strconv.Itoa(i)+", escape it (\\n, \\t, \\u00XX)")
		case c < utf8.RuneSelf:
			esc = append(esc, c)
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				s.noteBad(i)
			}
			esc = append(esc, b[i:i+n]...)
			i += n
		}
	}
	s.i = len(b)
	return span{}, s.syntaxErr(`'"' closing the string`)
}

// noteBad notes a bad string byte at i, if it is the first.
func (s *jsonScanner) noteBad(i int) {
	if s.badUTF8 == 0 {
		s.badUTF8 = i + 1
	}
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
		case c == '\\', c < 0x20, c >= utf8.RuneSelf:
			// Rare: let str check the escapes and UTF-8, then drop the
			// value.
			mark := len(s.esc)
			_, err := s.str()
			s.esc = s.esc[:mark]
			return err
		}
	}
	s.i = len(b)
	return s.syntaxErr(`'"' closing the string`)
}
