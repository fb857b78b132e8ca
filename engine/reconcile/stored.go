package reconcile

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/total"
)

// Stored reads the totals InfluxDB holds for the windows of the given sizes
// (ms; all sizes when empty) whose start is in [from, to), keyed by
// total.RecordKey. It is one Flux query over the window_total measurement;
// every name in it is escaped.
func Stored(ctx context.Context, q api.QueryAPI, bucket string, from, to time.Time, sizes []int64) (map[string]*total.Total, error) {
	var b strings.Builder
	fluxFrom(&b, bucket, influx.Measurement, from, to)
	if len(sizes) > 0 {
		conds := make([]string, len(sizes))
		for i, s := range sizes {
			conds[i] = "r." + influx.TagWindow + " == " + influx.FluxString(total.SizeName(s))
		}
		fmt.Fprintf(&b, "  |> filter(fn: (r) => %s)\n", strings.Join(conds, " or "))
	}
	res, err := q.Query(ctx, b.String())
	if err != nil {
		return nil, fmt.Errorf("reconcile: flux query: %w", err)
	}
	defer res.Close()
	out := make(map[string]*total.Total)
	fromMs, toMs := from.UnixMilli(), to.UnixMilli()
	var key []byte
	for res.Next() {
		r := res.Record()
		t, err := seriesTotal(r.Values())
		if err != nil {
			return nil, err
		}
		t.Start = r.Time().UnixMilli()
		if t.Start < fromMs || t.Start >= toMs {
			continue // InfluxDB 1.8's Flux range includes its stop
		}
		key = t.AppendRecordKey(key[:0])
		cur, ok := out[string(key)]
		if !ok {
			cur = &t
			out[string(key)] = cur
		}
		if err := setField(cur, r.Field(), r.Value()); err != nil {
			return nil, err
		}
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("reconcile: flux result: %w", err)
	}
	return out, nil
}

// fluxFrom writes the start of a Flux query: measurement's rows of bucket
// in [from, to] (every name escaped).
func fluxFrom(b *strings.Builder, bucket, measurement string, from, to time.Time) {
	fmt.Fprintf(b, "from(bucket: %s)\n  |> range(start: %s, stop: %s)\n  |> filter(fn: (r) => r._measurement == %s)\n",
		influx.FluxString(bucket), from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano),
		influx.FluxString(measurement))
}

// seriesTotal is the total a row's tags name, without values.
func seriesTotal(v map[string]any) (total.Total, error) {
	tag := func(k string) string { s, _ := v[k].(string); return s }
	t := total.Total{Key: tag(influx.TagKey), Type: tag(influx.TagType), DimSet: tag(influx.TagDims)}
	win := strings.TrimSuffix(tag(influx.TagWindow), "s")
	sec, err := strconv.ParseInt(win, 10, 64)
	if err != nil || sec <= 0 {
		return t, fmt.Errorf("reconcile: bad %s tag %q", influx.TagWindow, tag(influx.TagWindow))
	}
	t.Size = sec * 1000
	if s := tag(influx.TagSub); s != "" {
		if t.Sub, err = strconv.Atoi(s); err != nil {
			return t, fmt.Errorf("reconcile: bad %s tag %q", influx.TagSub, s)
		}
	}
	return t, nil
}

func setField(t *total.Total, field string, v any) error {
	var f float64
	var i int64
	switch x := v.(type) {
	case int64:
		f, i = float64(x), x
	case uint64:
		f, i = float64(x), int64(x)
	case float64:
		f, i = x, int64(x)
	default:
		return fmt.Errorf("reconcile: field %s has type %T", field, v)
	}
	switch field {
	case influx.FieldCount:
		t.Count = i
	case influx.FieldSum:
		t.Sum = f
	case influx.FieldMin:
		t.Min = f
	case influx.FieldMax:
		t.Max = f
	}
	return nil
}
