package query

import (
	"strconv"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/total"
)

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
	b.WriteString(influx.FluxString(bucket))
	b.WriteString(")\n  |> range(start: ")
	b.WriteString(fluxTime(from))
	// InfluxDB 1.8 includes points at the range's stop; points are at
	// window starts (whole milliseconds), so stopping 1 ns early keeps the
	// range [from, to) on every version.
	b.WriteString(", stop: ")
	b.WriteString(time.UnixMilli(to).Add(-time.Nanosecond).UTC().Format(time.RFC3339Nano))
	b.WriteString(")\n  |> filter(fn: (r) => r._measurement == ")
	b.WriteString(influx.FluxString(influx.Measurement))
	b.WriteString(" and r[")
	b.WriteString(influx.FluxString(influx.TagType))
	b.WriteString("] == ")
	b.WriteString(influx.FluxString(typ))
	b.WriteString(" and r[")
	b.WriteString(influx.FluxString(influx.TagWindow))
	b.WriteString("] == ")
	b.WriteString(influx.FluxString(total.SizeName(size)))
	if key != "" {
		b.WriteString(" and r[")
		b.WriteString(influx.FluxString(influx.TagKey))
		b.WriteString("] == ")
		b.WriteString(influx.FluxString(key))
	}
	for _, p := range f {
		b.WriteString(" and r[")
		b.WriteString(influx.FluxString(influx.DimTagPrefix + p[0]))
		b.WriteString("] == ")
		b.WriteString(influx.FluxString(p[1]))
	}
	b.WriteString(")\n  |> filter(fn: (r) => ")
	for i, fl := range fields {
		if i > 0 {
			b.WriteString(" or ")
		}
		b.WriteString("r._field == ")
		b.WriteString(influx.FluxString(fl))
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
		"  |> group(columns: [" + influx.FluxString(influx.TagKey) + "])\n" +
		"  |> sum()\n" +
		"  |> group()\n" +
		"  |> filter(fn: (r) => r._value > 0)\n"
	if n > 0 {
		q += "  |> map(fn: (r) => ({r with neg: -r._value}))\n" +
			"  |> sort(columns: [\"neg\", " + influx.FluxString(influx.TagKey) + "])\n" +
			"  |> limit(n: " + strconv.Itoa(n) + ")\n"
	}
	return q
}
