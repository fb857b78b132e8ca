package query

import (
	"strconv"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/total"
)

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

// fluxName quotes a column name for r[...], which takes a single literal:
// false when s needs a split literal (a '$' before an escaped character).
func fluxName(s string) (string, bool) {
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

// fluxTime is t (unix ms) as a Flux time literal.
func fluxTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)
}

// fluxSource is the from |> range |> filter prefix selecting the window
// totals of one type and window size in [from, to) matching f, optionally
// of one key, and only field names fields.
func fluxSource(bucket string, size int64, typ, key string, from, to int64, f filter, fields ...string) string {
	var b strings.Builder
	b.WriteString("from(bucket: ")
	b.WriteString(FluxString(bucket))
	b.WriteString(")\n  |> range(start: ")
	b.WriteString(fluxTime(from))
	// InfluxDB 1.8 includes points at the range's stop; points are at
	// window starts (whole milliseconds), so stopping 1 ns early keeps the
	// range [from, to) on every version.
	b.WriteString(", stop: ")
	b.WriteString(time.UnixMilli(to).Add(-time.Nanosecond).UTC().Format(time.RFC3339Nano))
	b.WriteString(")\n  |> filter(fn: (r) => r._measurement == ")
	b.WriteString(FluxString(influx.Measurement))
	b.WriteString(" and r[")
	b.WriteString(FluxString(influx.TagType))
	b.WriteString("] == ")
	b.WriteString(FluxString(typ))
	b.WriteString(" and r[")
	b.WriteString(FluxString(influx.TagWindow))
	b.WriteString("] == ")
	b.WriteString(FluxString(total.SizeName(size)))
	if key != "" {
		b.WriteString(" and r[")
		b.WriteString(FluxString(influx.TagKey))
		b.WriteString("] == ")
		b.WriteString(FluxString(key))
	}
	for _, p := range f {
		b.WriteString(" and r[")
		b.WriteString(FluxString(influx.DimTagPrefix + p[0]))
		b.WriteString("] == ")
		b.WriteString(FluxString(p[1]))
	}
	b.WriteString(")\n  |> filter(fn: (r) => ")
	for i, fl := range fields {
		if i > 0 {
			b.WriteString(" or ")
		}
		b.WriteString("r._field == ")
		b.WriteString(FluxString(fl))
	}
	b.WriteString(")\n")
	return b.String()
}

// fluxTotals selects one key's window totals in [from, to), one row per
// series and window with the fields as columns.
func fluxTotals(bucket string, size int64, typ, key string, from, to int64, f filter) string {
	return fluxSource(bucket, size, typ, key, from, to, f,
		influx.FieldCount, influx.FieldSum, influx.FieldMin, influx.FieldMax) +
		`  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")` + "\n"
}

// fluxKeyCounts sums every key's count in [from, to); with n > 0 it keeps
// the n largest, ties broken by key ascending (sorted on the negated sum
// and the key, both ascending).
func fluxKeyCounts(bucket string, size int64, typ string, from, to int64, f filter, n int) string {
	q := fluxSource(bucket, size, typ, "", from, to, f, influx.FieldCount) +
		"  |> group(columns: [" + FluxString(influx.TagKey) + "])\n" +
		"  |> sum()\n" +
		"  |> group()\n" +
		"  |> filter(fn: (r) => r._value > 0)\n"
	if n > 0 {
		q += "  |> map(fn: (r) => ({r with neg: -r._value}))\n" +
			"  |> sort(columns: [\"neg\", " + FluxString(influx.TagKey) + "])\n" +
			"  |> limit(n: " + strconv.Itoa(n) + ")\n"
	}
	return q
}
