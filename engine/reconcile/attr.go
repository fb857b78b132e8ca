package reconcile

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/enrich"
	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/total"
)

// Enrich makes a run repair the attribute roll-ups (engine/enrich) of the
// windows it recounts, too. Every counted event is joined, at its event
// time, with its key's version read from MetadataTopic (the engine's
// per-event join: the version with the largest effective time <= the
// event's, a deletion a version without attributes, none: enrich.Unknown),
// and the recounted attribute totals (attribute, value, type, window,
// partition) are compared with the newest record of TotalsTopic and with
// InfluxDB's attr_total (in Influx.Bucket), count, sum, min and max. A
// differing total of a safe window (safety.go, as for its key totals) is
// published, absolute, to TotalsTopic in one transaction and written to
// InfluxDB directly (unless AggregatesOnly); a stored total no event
// supports gets a zero total. The recount includes the events the engine
// found too late: after a repair, a window's attribute totals add up to its
// repaired key totals again.
type Enrich struct {
	// MetadataTopic and TotalsTopic are the topics (enrich.DefaultTopic
	// and enrich.DefaultTotalsTopic with the run's prefix).
	MetadataTopic, TotalsTopic string
	// Attrs are the attribute names rolled up (the engine's).
	Attrs []string
}

// AttrResult is what a run found and did with the attribute totals.
type AttrResult struct {
	Versions         int `json:"metadata_versions"`
	WindowsChecked   int `json:"windows_checked"`
	WindowsDiffering int `json:"windows_differing"`
	WindowsRewritten int `json:"windows_rewritten"`
	// WindowsSkippedOpen are differing totals of windows the engine may
	// still close (not written).
	WindowsSkippedOpen int `json:"windows_skipped_open"`
	// Differences are the first MaxDifferences differing totals
	// (enrich.AttrTotal.RecordKey).
	Differences []string `json:"differences,omitempty"`
}

// attrCounter recounts the attribute totals alongside counter.
type attrCounter struct {
	names    []string
	versions map[string][]enrich.Record // by entity, sorted by TS
	totals   map[string]*enrich.AttrTotal
	keys     map[string]map[string]struct{} // total -> key 0x00 dims merged
	bad      int64
}

func newAttrCounter(names []string) *attrCounter {
	return &attrCounter{names: names, versions: map[string][]enrich.Record{}, totals: map[string]*enrich.AttrTotal{},
		keys: map[string]map[string]struct{}{}}
}

// addVersion reads one metadata record (a null value: a deletion).
func (a *attrCounter) addVersion(r *kgo.Record) {
	var rec enrich.Record
	var err error
	if r.Value == nil {
		rec, err = enrich.DeletionOf(r.Key)
	} else {
		rec, err = enrich.ParseRecord(r.Value)
	}
	if err != nil {
		a.bad++ // the engine refuses it too
		return
	}
	vs := a.versions[rec.Entity]
	i, found := slices.BinarySearchFunc(vs, rec.TS, func(v enrich.Record, ts int64) int { return cmp.Compare(v.TS, ts) })
	if found {
		vs[i] = rec
	} else {
		a.versions[rec.Entity] = slices.Insert(vs, i, rec)
	}
}

// value is attribute name of entity for an event at ts.
func (a *attrCounter) value(entity, name string, ts int64) string {
	vs := a.versions[entity]
	i, _ := slices.BinarySearchFunc(vs, ts+1, func(v enrich.Record, t int64) int { return cmp.Compare(v.TS, t) })
	if i == 0 {
		return enrich.Unknown
	}
	return vs[i-1].Get(name)
}

// count adds the counted event ev (dimension set dims) to its attribute
// totals of window (start, size) of partition p.
func (a *attrCounter) count(ev *event.Event, dims string, p int32, start, size int64) {
	for _, name := range a.names {
		at := enrich.AttrTotal{Attr: name, Value: a.value(ev.Key, name, ev.TS), Type: ev.Type, Sub: int(p), Start: start, Size: size}
		k := string(at.RecordKey())
		cur := a.totals[k]
		if cur == nil {
			cur = &at
			a.totals[k] = cur
			a.keys[k] = map[string]struct{}{}
		}
		v := ev.Value
		if cur.Count == 0 {
			cur.Min, cur.Max = v, v
		} else {
			cur.Min, cur.Max = math.Min(cur.Min, v), math.Max(cur.Max, v)
		}
		cur.Count++
		cur.Sum += v
		kd := ev.Key + "\x00" + dims
		if _, ok := a.keys[k][kd]; !ok {
			a.keys[k][kd] = struct{}{}
			cur.Keys++
		}
	}
}

// attrTopicView is the newest attribute total per record key in range.
type attrTopicView struct {
	sizes    []int64
	from, to int64
	latest   map[string]*enrich.AttrTotal
}

func (v *attrTopicView) add(r *kgo.Record) {
	if r.Value == nil {
		return
	}
	t, err := enrich.UnmarshalAttrTotal(r.Value)
	if err != nil || t.Start < v.from || t.Start >= v.to || !slices.Contains(v.sizes, t.Size) {
		return
	}
	v.latest[string(t.RecordKey())] = &t
}

// StoredAttrs reads InfluxDB's attr_total of names for window starts in
// [from, to) (one Flux query), by record key.
func StoredAttrs(ctx context.Context, q api.QueryAPI, bucket string, from, to time.Time, sizes []int64, names []string) (map[string]*enrich.AttrTotal, error) {
	var b strings.Builder
	fluxFrom(&b, bucket, enrich.Measurement, from, to)
	conds := make([]string, len(names))
	for i, n := range names {
		conds[i] = "r." + enrich.TagAttr + " == " + influx.FluxString(n)
	}
	fmt.Fprintf(&b, "  |> filter(fn: (r) => %s)\n", strings.Join(conds, " or "))
	res, err := q.Query(ctx, b.String())
	if err != nil {
		return nil, fmt.Errorf("reconcile: flux query (attributes): %w", err)
	}
	defer res.Close()
	out := map[string]*enrich.AttrTotal{}
	fromMs, toMs := from.UnixMilli(), to.UnixMilli()
	for res.Next() {
		r := res.Record()
		tag := func(k string) string { s, _ := r.Values()[k].(string); return s }
		t := enrich.AttrTotal{Attr: tag(enrich.TagAttr), Value: tag(enrich.TagValue), Type: tag(enrich.TagType), Start: r.Time().UnixMilli()}
		sec, err := strconv.ParseInt(strings.TrimSuffix(tag(enrich.TagWindow), "s"), 10, 64)
		if err != nil || sec <= 0 {
			return nil, fmt.Errorf("reconcile: bad %s tag %q", enrich.TagWindow, tag(enrich.TagWindow))
		}
		t.Size = sec * 1000
		if s := tag(enrich.TagSub); s != "" {
			if t.Sub, err = strconv.Atoi(s); err != nil {
				return nil, fmt.Errorf("reconcile: bad %s tag %q", enrich.TagSub, s)
			}
		}
		if t.Start < fromMs || t.Start >= toMs || !slices.Contains(sizes, t.Size) {
			continue
		}
		k := string(t.RecordKey())
		cur := out[k]
		if cur == nil {
			cur = &t
			out[k] = cur
		}
		var f float64
		var i int64
		switch x := r.Value().(type) {
		case int64:
			f, i = float64(x), x
		case float64:
			f, i = x, int64(x)
		}
		switch r.Field() {
		case "count":
			cur.Count = i
		case "sum":
			cur.Sum = f
		case "min":
			cur.Min = f
		case "max":
			cur.Max = f
		case "keys":
			cur.Keys = int(i)
		}
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("reconcile: flux result (attributes): %w", err)
	}
	return out, nil
}

// attrEqual is equal (reconcile.go) of attribute totals.
func attrEqual(truth, got *enrich.AttrTotal) bool { return equal(asTotal(truth), asTotal(got)) }

func asTotal(a *enrich.AttrTotal) *total.Total {
	if a == nil {
		return nil
	}
	return &total.Total{Count: a.Count, Sum: a.Sum, Min: a.Min, Max: a.Max}
}

// attrDiff is one differing attribute total: the one to write (the
// recount, or a zero total), and whether the topic has the window's.
type attrDiff struct {
	t       enrich.AttrTotal
	inTopic bool
}

// compareAttrs compares the recounted attribute totals with the topic and
// InfluxDB (see Enrich).
func compareAttrs(ctx context.Context, cfg *Config, base []kgo.Opt, ic influxdb2.Client, sizes []int64, a *attrCounter, log *slog.Logger) (*AttrResult, []attrDiff, error) {
	res := &AttrResult{Differences: []string{}}
	for _, vs := range a.versions {
		res.Versions += len(vs)
	}
	from, to := cfg.From.UnixMilli(), cfg.To.UnixMilli()
	view := &attrTopicView{sizes: sizes, from: from, to: to, latest: map[string]*enrich.AttrTotal{}}
	if err := readTopic(ctx, base, cfg.Enrich.TotalsTopic, cfg.Idle, log, view.add); err != nil {
		return res, nil, err
	}
	qctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	stored, err := StoredAttrs(qctx, ic.QueryAPI(cfg.Influx.Org), cfg.Influx.Bucket, cfg.From, cfg.To, sizes, cfg.Enrich.Attrs)
	cancel()
	if err != nil {
		return res, nil, err
	}
	keys := make([]string, 0, len(a.totals))
	for _, m := range []map[string]*enrich.AttrTotal{a.totals, stored, view.latest} {
		for k := range m {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var diffs []attrDiff
	for _, k := range keys {
		truth, got, top := a.totals[k], stored[k], view.latest[k]
		res.WindowsChecked++
		if attrEqual(truth, got) && attrEqual(truth, top) {
			continue
		}
		res.WindowsDiffering++
		if len(res.Differences) < cfg.MaxDifferences {
			res.Differences = append(res.Differences, k)
		}
		t := truth
		if t == nil {
			z := got
			if z == nil {
				z = top
			}
			zt := *z
			zt.Count, zt.Sum, zt.Min, zt.Max, zt.Keys = 0, 0, 0, 0, 0
			t = &zt
		}
		diffs = append(diffs, attrDiff{t: *t, inTopic: top != nil})
	}
	return res, diffs, nil
}

// repairAttrs writes the differing totals of safe windows (the engine
// writes a window's attribute totals once, at its close: one in the topic
// is of a closed window).
func repairAttrs(ctx context.Context, cfg *Config, base []kgo.Opt, ic influxdb2.Client, res *AttrResult, diffs []attrDiff, sf *safety, log *slog.Logger) error {
	var recs []*kgo.Record
	var pts []*write.Point
	for i := range diffs {
		t := &diffs[i].t
		if !sf.safe(t.Sub, t.Start, t.Size, diffs[i].inTopic) {
			res.WindowsSkippedOpen++
			continue
		}
		v, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("reconcile: attribute total %s: %w", t.RecordKey(), err)
		}
		recs = append(recs, &kgo.Record{Topic: cfg.Enrich.TotalsTopic, Partition: int32(t.Sub), Key: t.RecordKey(), Value: v})
		pts = append(pts, t.Point())
	}
	if cfg.DryRun || len(recs) == 0 {
		return nil
	}
	if err := publishRecords(ctx, base, cfg.TransactionalID, recs, cfg.Timeout, log); err != nil {
		return err
	}
	if !cfg.AggregatesOnly {
		if err := rewritePoints(ctx, ic.WriteAPIBlocking(cfg.Influx.Org, cfg.Influx.Bucket), pts, cfg.Timeout, log); err != nil {
			return err
		}
	}
	res.WindowsRewritten = len(recs)
	return nil
}
