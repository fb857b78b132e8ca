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
	"github.com/countlab/countlab/engine/total"
)

// Enricher is where the aggregator finds the attributes of the keys it
// counts (enrich.Follower is one; engine/enrich has the semantics).
type Enricher interface {
	// CatchUp returns once every metadata record committed when it was
	// called is in the store; an error leaves windows open for now.
	CatchUp(ctx context.Context) error
	// Attrs returns, for each of names, the attribute value of entity's
	// last version effective before `before` (unix ms), or
	// enrich.Unknown. An error fails the batch.
	Attrs(entity string, before int64, names []string) ([]string, error)
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
	// seen caches the commit's lookups by (entity, window end): a key's
	// windows of every type and dimension set need one.
	seen map[entityAt][]string
}

type entityAt struct {
	entity string
	end    int64
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

// attrAdd rolls the closing key total t of partition p up.
func (w *Worker) attrAdd(p int32, t *total.Total) {
	ec := w.cfg.enrich
	if ec == nil {
		return
	}
	end := t.Start + t.Size
	b := &w.attrs
	if b.totals == nil {
		b.totals, b.seen = map[string]*enrich.AttrTotal{}, map[entityAt][]string{}
	}
	vals, ok := b.seen[entityAt{t.Key, end}]
	if !ok {
		var err error
		if vals, err = ec.e.Attrs(t.Key, end, ec.names); err != nil {
			w.promise(nil, err) // fails the batch
			return
		}
		b.seen[entityAt{t.Key, end}] = vals
	}
	b.maxEnd = max(b.maxEnd, end)
	for i, name := range ec.names {
		at := enrich.AttrTotal{Attr: name, Value: vals[i], Type: t.Type, Sub: int(p), Start: t.Start, Size: t.Size}
		k := string(at.RecordKey())
		cur := b.totals[k]
		if cur == nil {
			cur = &at
			b.totals[k] = cur
		}
		cur.Merge(t.Count, t.Sum, t.Min, t.Max)
	}
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
}

func jsonAttr(t *enrich.AttrTotal) ([]byte, error) { return json.Marshal(t) }
