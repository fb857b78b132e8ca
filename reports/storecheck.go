package reports

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"

	"github.com/countlab/countlab/sim/oracle"
)

// Store is the window totals as stored.
type Store interface {
	// Windows returns every stored window total whose start is in
	// [from, to) (unix ms), summed over hot-key sub-keys, one per
	// (size, type, key, dimension set, start).
	Windows(ctx context.Context, from, to int64) ([]oracle.Window, error)
}

// InfluxStore reads the totals straight from InfluxDB with a Flux query of
// its own (not the query service's), by the schema the README documents:
// measurement window_total, tags key, type, win ("60s"), dims (absent
// without dimensions), sub; fields count and sum; time the window start.
type InfluxStore struct {
	api    api.QueryAPI
	bucket string
	close  func()
	// more are further buckets read too (each granularity's retention
	// policy; retention.go).
	more []string
}

// NewInfluxStore is a Store for the InfluxDB at url (bucket "db/rp" on
// 1.8; token "" or "user:password").
func NewInfluxStore(url, org, bucket, token string) *InfluxStore {
	cl := influxdb2.NewClientWithOptions(url, token, influxdb2.DefaultOptions().SetHTTPRequestTimeout(120))
	return &InfluxStore{api: cl.QueryAPI(org), bucket: bucket, close: cl.Close}
}

// Close releases the client.
func (s *InfluxStore) Close() { s.close() }

// fluxQuote is s as a Flux string literal.
func fluxQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

type storeKey struct {
	size, start    int64
	typ, key, dims string
}

// Windows implements Store.
func (s *InfluxStore) Windows(ctx context.Context, from, to int64) ([]oracle.Window, error) {
	sums := map[storeKey]*oracle.Total{}
	for _, b := range append([]string{s.bucket}, s.more...) {
		if err := s.windowsIn(ctx, b, from, to, sums); err != nil {
			return nil, err
		}
	}
	out := make([]oracle.Window, 0, len(sums))
	for k, t := range sums {
		out = append(out, oracle.Window{WindowKey: oracle.WindowKey{Size: k.size, Start: k.start, Type: k.typ, Key: k.key, DimSet: k.dims}, Total: *t})
	}
	return out, nil
}

// windowsIn adds the totals of bucket to sums.
func (s *InfluxStore) windowsIn(ctx context.Context, bucket string, from, to int64, sums map[storeKey]*oracle.Total) error {
	q := fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == "window_total" and (r._field == "count" or r._field == "sum"))
  |> keep(columns: ["_time", "_field", "_value", "key", "type", "win", "dims"])`,
		fluxQuote(bucket), msTime(from).Format(time.RFC3339Nano), msTime(to).Format(time.RFC3339Nano))
	res, err := s.api.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("store check: flux query: %w", err)
	}
	defer res.Close()
	for res.Next() {
		r := res.Record()
		start := r.Time().UnixMilli()
		if start < from || start >= to {
			continue // InfluxDB 1.8's Flux range includes its stop
		}
		tag := func(k string) string { v, _ := r.ValueByKey(k).(string); return v }
		size, err := parseSizeTag(tag("win"))
		if err != nil {
			return err
		}
		k := storeKey{size: size, start: start, typ: tag("type"), key: tag("key"), dims: tag("dims")}
		t := sums[k]
		if t == nil {
			t = &oracle.Total{}
			sums[k] = t
		}
		if !addField(t, r.Field(), r.Value()) {
			return fmt.Errorf("store check: field %s of %s is a %T", r.Field(), k.key, r.Value())
		}
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("store check: flux result: %w", err)
	}
	return nil
}

func parseSizeTag(s string) (int64, error) {
	if n, err := strconv.ParseInt(strings.TrimSuffix(s, "s"), 10, 64); err == nil && strings.HasSuffix(s, "s") && n > 0 {
		return n * 1000, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d.Milliseconds(), nil
	}
	return 0, fmt.Errorf("store check: bad win tag %q", s)
}

// checkStore compares the truth's windows (ByDimSet) with the store,
// re-reading while they differ until deadline; a stored window of size s
// the truth does not have is unexpected unless it starts before
// checked[s] (the rolling check looked at those).
func checkStore(ctx context.Context, want []oracle.Window, st Store, keyPrefix string, deadline time.Time, checked map[int64]int64, shared func(WindowDiff) int64) (WindowCheck, error) {
	c := WindowCheck{WindowsChecked: len(want)}
	if len(want) == 0 {
		c.finish(nil, "", nil)
		return c, nil
	}
	from, to := want[0].Start, want[0].End()
	for _, w := range want {
		from, to = min(from, w.Start), max(to, w.End())
	}
	smallest := want[0].Size
	for {
		got, err := st.Windows(ctx, from, to)
		if err != nil {
			return c, err
		}
		have := make(map[oracle.WindowKey]oracle.Total, len(got))
		for _, g := range got {
			have[g.WindowKey] = g.Total
		}
		var diffs []WindowDiff
		c.CountedEvents, c.UnexpectedWindows = 0, 0
		diff := func(k oracle.WindowKey, want, got oracle.Total) WindowDiff {
			return WindowDiff{Source: "store", Window: sizeName(k.Size), Type: k.Type, Key: k.Key, DimSet: k.DimSet, Start: msTime(k.Start),
				WantCount: want.Count, GotCount: got.Count, WantSum: want.Sum, GotSum: got.Sum}
		}
		for _, w := range want {
			g := have[w.WindowKey]
			delete(have, w.WindowKey)
			if w.Size == smallest {
				c.CountedEvents += g.Count
			}
			if g != w.Total {
				diffs = append(diffs, diff(w.WindowKey, w.Total, g))
			}
		}
		for k, g := range have {
			if b, ok := checked[k.Size]; ok && k.Start < b || !strings.HasPrefix(k.Key, keyPrefix) || g.Count == 0 && g.Sum == 0 {
				continue
			}
			c.UnexpectedWindows++
			if k.Size == smallest {
				c.CountedEvents += g.Count
			}
			diffs = append(diffs, diff(k, oracle.Total{}, g))
		}
		if len(diffs) == 0 || !time.Now().Before(deadline) {
			c.finish(diffs, sizeName(smallest), shared)
			return c, nil
		}
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// addField adds a stored count or sum field's value v (int64 or float64,
// as Flux returns them) to t; false for a value of another type.
func addField(t *oracle.Total, field string, v any) bool {
	switch v := v.(type) {
	case int64:
		if field == "count" {
			t.Count += v
		} else {
			t.Sum += float64(v)
		}
	case float64:
		if field == "count" {
			t.Count += int64(v)
		} else {
			t.Sum += v
		}
	default:
		return false
	}
	return true
}
