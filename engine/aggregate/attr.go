package aggregate

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/enrich"
)

// Enricher is where the aggregator finds the attributes of the keys it
// counts (enrich.Follower is one; docs/enrichment.md has the semantics).
type Enricher interface {
	// CatchUp returns once every metadata record committed when it was
	// called is in the store; an error leaves windows open for now.
	CatchUp(ctx context.Context) error
	// Spans returns the values of attributes names of entity over the
	// event times [from, to): sorted by From, the first From == from;
	// an event at t takes the values of the last span with From <= t
	// (enrich.Unknown: no version in effect). An error fails the batch.
	Spans(entity string, from, to int64, names []string) ([]enrich.Span, error)
	// Closed is told, after a commit, the largest end of the windows it
	// closed.
	Closed(end int64)
}

// enrichCfg is the attribute roll-up of Enrich.
type enrichCfg struct {
	e     Enricher
	names []string
	topic string
}

// Enrich rolls the window totals up by the attributes names of their keys
// (e.g. "channel"), looked up in e when a window closes: one
// enrich.AttrTotal per (attribute, value, type, window, partition),
// produced to topic (created by enrich.EnsureTopics) in the transaction
// that writes the window's Closed totals. Default: no roll-up.
func Enrich(e Enricher, topic string, names ...string) Opt {
	return optFn(func(c *cfg) {
		c.enrich = &enrichCfg{e: e, names: slices.Clone(names), topic: topic}
	})
}

func (c *enrichCfg) validate() error {
	if c == nil {
		return nil
	}
	if c.e == nil || c.topic == "" || len(c.names) == 0 {
		return errors.New("aggregate: Enrich needs an Enricher, a topic and at least one attribute name")
	}
	return nil
}

// attrBatch holds the attribute totals of the windows one commit closes.
type attrBatch struct {
	totals map[string]*enrich.AttrTotal
	maxEnd int64
	// seen caches the commit's lookups by (entity, window): a key's
	// windows of every type and dimension set need one.
	seen map[entitySpan][]enrich.Span
	// scratch buffers of split
	merged []sub
	parts  []sub
	byVal  []valuePart
}

type entitySpan struct {
	entity     string
	start, end int64
}

type valuePart struct {
	value string
	part  sub
}

// enrichCatchUp runs before windows close: the store must hold every
// version committed so far. If it cannot catch up, no window closes in
// this commit (they close in a later one; nothing is lost).
func (w *Worker) enrichCatchUp(ctx context.Context, dues map[*partition][]int64, anyDue bool) (map[*partition][]int64, bool) {
	if w.cfg.enrich == nil || !anyDue {
		return dues, anyDue
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := w.cfg.enrich.e.CatchUp(cctx); err != nil {
		w.cfg.log.Warn("metadata store not caught up; windows stay open until it is", "err", err)
		return map[*partition][]int64{}, false
	}
	return dues, anyDue
}

// attrAdd rolls the closing window win of partition p up: its events are
// split at the key's version boundaries by event time (the per-event
// temporal join), from the window's sub-totals.
func (w *Worker) attrAdd(p int32, win *window) {
	ec := w.cfg.enrich
	if ec == nil {
		return
	}
	t := &win.t
	end := t.Start + t.Size
	b := &w.attrs
	if b.totals == nil {
		b.totals, b.seen = map[string]*enrich.AttrTotal{}, map[entitySpan][]enrich.Span{}
	}
	ek := entitySpan{t.Key, t.Start, end}
	spans, ok := b.seen[ek]
	if !ok {
		var err error
		if spans, err = ec.e.Spans(t.Key, t.Start, end, ec.names); err != nil || len(spans) == 0 {
			if err == nil {
				err = errors.New("aggregate: enricher returned no span")
			}
			w.promise(nil, err) // fails the batch
			return
		}
		b.seen[ek] = spans
	}
	b.maxEnd = max(b.maxEnd, end)
	b.parts = b.split(win, spans, b.parts[:0])
	if b.parts == nil {
		// No sub-totals matching the total (a window restored from an
		// engine or a mode that kept none): attributed whole, at its
		// last millisecond.
		w.m.attrWhole.Inc()
		b.parts = append(b.parts[:0], sub{ms: int64(len(spans) - 1), count: t.Count, sum: t.Sum, lo: t.Min, hi: t.Max})
	}
	for i, name := range ec.names {
		// One key total per value: spans with the same value merge.
		b.byVal = b.byVal[:0]
		for j := range b.parts {
			part := &b.parts[j]
			if part.count == 0 {
				continue
			}
			v := spans[part.ms].Values[i]
			k := slices.IndexFunc(b.byVal, func(x valuePart) bool { return x.value == v })
			if k < 0 {
				b.byVal = append(b.byVal, valuePart{value: v, part: *part})
			} else {
				b.byVal[k].part.merge(part)
			}
		}
		for _, vp := range b.byVal {
			at := enrich.AttrTotal{Attr: name, Value: vp.value, Type: t.Type, Sub: int(p), Start: t.Start, Size: t.Size}
			k := string(at.RecordKey())
			cur := b.totals[k]
			if cur == nil {
				cur = &at
				b.totals[k] = cur
			}
			cur.Merge(vp.part.count, vp.part.sum, vp.part.lo, vp.part.hi)
		}
	}
}

// split sums win's sub-totals (committed and sealed batch) per span:
// parts[j] (ms = j) is the total of the events in spans[j]. It returns nil
// when the window has no sub-totals adding up to its total.
func (b *attrBatch) split(win *window, spans []enrich.Span, parts []sub) []sub {
	if win.subs == nil || win.subs.count() != win.t.Count || win.t.Count == 0 {
		return nil
	}
	subs := win.subs.done
	if len(win.subs.pend) > 0 {
		b.merged = mergeSubs(b.merged, win.subs.done, win.subs.pend)
		subs = b.merged
	}
	for j := range spans {
		parts = append(parts, sub{ms: int64(j)})
	}
	j := 0
	for i := range subs {
		for j+1 < len(spans) && spans[j+1].From <= subs[i].ms {
			j++
		}
		parts[j].merge(&subs[i])
	}
	return parts
}

// produceAttrTotals produces the batch's attribute totals, in key order.
func (w *Worker) produceAttrTotals(ctx context.Context) {
	b := &w.attrs
	if len(b.totals) == 0 {
		return
	}
	keys := make([]string, 0, len(b.totals))
	for k := range b.totals {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	for _, k := range keys {
		t := b.totals[k]
		v, err := jsonAttr(t)
		if err != nil {
			w.promise(nil, err)
			return
		}
		w.produce(ctx, &kgo.Record{Topic: w.cfg.enrich.topic, Partition: int32(t.Sub), Key: []byte(k), Value: v})
	}
	clear(b.totals)
}

// attrCommitted tells the enricher what closed; after an abort the batch
// is dropped (the replay closes the windows again).
func (w *Worker) attrCommitted(committed bool) {
	b := &w.attrs
	if w.cfg.enrich != nil && committed && b.maxEnd > 0 {
		w.cfg.enrich.e.Closed(b.maxEnd)
	}
	clear(b.totals)
	clear(b.seen)
	b.maxEnd = 0
	b.merged, b.parts = b.merged[:0], b.parts[:0]
}

func jsonAttr(t *enrich.AttrTotal) ([]byte, error) { return json.Marshal(t) }
