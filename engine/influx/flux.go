package influx

import "strings"

// FluxString quotes s as a Flux string expression: backslash, double quote,
// newline, carriage return, tab and the interpolation opener "${" are
// escaped, so no input can end the literal, interpolate an expression or
// change the query around it. Every value a query puts into Flux (bucket,
// key, type, window, dimension values) goes through it.
//
// Flux's scanner (as in InfluxDB 1.8) reads '$' and the character after it
// as one unit, so a '$' directly before an escape would swallow its
// backslash: there the literal is split, ("a$" + "\\b").
func FluxString(s string) string {
	lit, split := fluxQuote(s)
	if split {
		return "(" + lit + ")"
	}
	return lit
}

// FluxName quotes a column name for r[...], which takes a single literal:
// false when s needs a split literal (a '$' before an escaped character).
func FluxName(s string) (string, bool) {
	lit, split := fluxQuote(s)
	return lit, !split
}

func fluxQuote(s string) (lit string, split bool) {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	dollar := false // the last byte written is an unescaped '$'
	esc := func(e string) {
		if dollar {
			b.WriteString(`" + "`)
			split = true
		}
		b.WriteString(e)
		dollar = false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			esc(`\\`)
		case '"':
			esc(`\"`)
		case '\n':
			esc(`\n`)
		case '\r':
			esc(`\r`)
		case '\t':
			esc(`\t`)
		case '$':
			if i+1 < len(s) && s[i+1] == '{' {
				esc(`\$`)
			} else {
				b.WriteByte('$')
				dollar = true
			}
		default:
			b.WriteByte(c)
			dollar = false
		}
	}
	b.WriteByte('"')
	return b.String(), split
}
