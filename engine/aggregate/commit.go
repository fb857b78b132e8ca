package aggregate

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/total"
)

const reportInterval = time.Second

// commit ends the open batch: it writes the batch's totals (and the Closed
// totals of every window the watermark passed), one changelog record per
// changed partition and the consumed offsets in the open transaction, and
// commits it. If the transaction aborts, every partition's batch is undone
// and the client has rewound to the committed offsets.
func (w *Worker) commit(ctx context.Context) error {
	start := time.Now()
	w.pace.full = false
	w.advanceIdle(start)
	dues := make(map[*partition][]int64, len(w.parts))
	anyDue := false
	for _, p := range w.parts {
		if d := p.due(); len(d) > 0 {
			dues[p] = d
			anyDue = true
		}
	}
	dues, anyDue = w.enrichCatchUp(ctx, dues, anyDue) // attr.go
	if !w.batchOpen() && !anyDue {
		w.recycle() // nothing produced: nothing refers to the records
		w.report(start)
		return nil
	}
	if err := w.begin(); err != nil {
		return err
	}
	var closing []*window
	out := &w.out
	for _, p := range w.parts {
		if p.enrich {
			p.sealSubs() // subtotal.go
		}
		p.closable(dues[p], func(win *window) {
			win.closing = true
			closing = append(closing, win)
			t := win.t
			t.Closed = true
			w.produceTotal(ctx, out, p.id, &t)
			w.attrAdd(p.id, win)
		})
		for _, win := range p.dirty {
			if !win.closing {
				w.produceTotal(ctx, out, p.id, &win.t)
			}
		}
		if p.changed && !w.cfg.atLeastOnce {
			w.produceChangelog(ctx, out, p, true)
		}
	}
	w.m.totals.Add(float64(out.totals))
	w.produceAttrTotals(ctx)
	if w.beforeEnd != nil {
		if err := w.beforeEnd(); err != nil {
			return err
		}
	}
	committed, err := w.end(ctx)
	if err == nil { // the client holds none of the batch's records
		w.recycle()
		out.reset()
	} else {
		w.dropHeld()
		out.forget()
	}
	w.attrCommitted(committed)
	if committed {
		for _, p := range w.parts {
			p.committed(dues[p], w.cfg.horizon)
		}
		w.m.commits.Inc()
	} else {
		for _, win := range closing {
			win.closing = false
		}
		w.rollback()
	}
	w.m.commitLatency.Observe(time.Since(start).Seconds())
	w.report(time.Now())
	return err
}

// maxChangelogIDs bounds the dedup ids of one changelog record: at most
// 26 bytes an id (16 of fingerprint, a varint of event time; about 19 in
// practice), 32Ki ids stay well under Kafka's default 1 MiB record limit
// (message.max.bytes) however many ids one poll brought.
const maxChangelogIDs = 32 << 10

// changelogChunkIDs is how many of a partition's new dedup ids make a
// changelog record before the commit: process produces it into the open
// transaction as soon as a poll brings the partition's unlogged ids to it,
// so the broker takes it in while the worker handles the next polls
// instead of all at the commit, when the worker waits (the commit's Flush
// and EndTxn stop processing). The record is in the batch's transaction,
// so it commits or aborts with the rest; rollback undoes every id of the
// batch, logged or not.
const changelogChunkIDs = 4 << 10

// produceChangelog writes p's batch's dedup ids that are not yet in a
// changelog record: one record, or several in this one transaction when
// there are more than maxChangelogIDs. Each record carries the partition's
// watermark (as it stands when the record is made; it only rises) and is
// read on its own by restore (ids added, watermarks merged), so a batch in
// k records restores exactly as in one. final is the commit's record,
// made even without new ids (it carries the batch's last watermark), with
// the sub-totals of an enriched run. The timestamp is the partition
// watermark (monotone, never < 0): restore seeks by it (changelogFrom).
// The values are written into the batch's arena (out).
func (w *Worker) produceChangelog(ctx context.Context, out *outBatch, p *partition, final bool) {
	added := p.dedup.unlogged()
	sortAdded(added)
	p.dedup.logged = len(p.dedup.added)
	key := strconv.AppendInt(nil, int64(p.id), 10)
	ts := time.UnixMilli(max(p.wm.wm, 0))
	put := func(ids []dedupEntry, last bool) {
		groups, n := changelogSize(ids)
		out.reserve(n)
		start := len(out.arena)
		out.arena = appendChangelogGroups(out.arena, p.wm, ids, groups)
		if last {
			out.arena = p.appendSubs(out.arena)
		}
		r := out.record()
		r.Topic, r.Partition, r.Key, r.Value, r.Timestamp = w.cfg.changelog, p.id, key, out.since(start), ts
		w.produce(ctx, r)
		if final {
			w.m.changelogAtCommit.Inc()
		} else {
			w.m.changelogInBatch.Inc()
		}
	}
	for len(added) > maxChangelogIDs {
		put(added[:maxChangelogIDs], false)
		added = added[maxChangelogIDs:]
	}
	if final || len(added) > 0 {
		put(added, final)
	}
}

// totalBytes is room enough for most totals' key and JSON value.
const totalBytes = 1 << 10

// produceTotal produces t, its key and value encoded straight into out's
// arena.
func (w *Worker) produceTotal(ctx context.Context, out *outBatch, p int32, t *total.Total) {
	r := out.record()
	r.Topic, r.Partition = w.cfg.topics.Aggregates, p
	out.reserve(totalBytes)
	start := len(out.arena)
	out.arena = t.AppendRecordKey(out.arena)
	r.Key = out.since(start)
	start = len(out.arena)
	var err error
	out.arena, err = t.AppendJSON(out.arena)
	if err != nil {
		out.arena = out.arena[:start]
		w.promise(r, err) // fails the batch: never a total written as 0
		return
	}
	r.Value = out.since(start)
	out.totals++
	w.produce(ctx, r)
}

// end ends the batch: flush + commit (at-least-once mode: flush, then a
// separate offset commit). It reports whether the batch committed; an
// error is not retryable.
func (w *Worker) end(ctx context.Context) (bool, error) {
	if w.sess == nil {
		if err := w.cl.Flush(ctx); err != nil {
			return false, err
		}
		if err := w.takeProduceErr(); err != nil {
			return false, fmt.Errorf("aggregate: produce: %w", err)
		}
		if err := w.cl.CommitUncommittedOffsets(ctx); err != nil {
			w.cfg.log.Warn("offset commit failed (at-least-once mode)", "err", err)
		}
		return true, nil
	}
	how := kgo.TryCommit
	if err := w.cl.Flush(ctx); err != nil {
		return false, err
	}
	if err := w.takeProduceErr(); err != nil {
		w.cfg.log.Warn("produce failed; aborting the transaction", "err", err)
		how = kgo.TryAbort
	}
	committed, err := w.sess.End(ctx, how)
	w.txnOpen = false
	if err != nil {
		return false, fmt.Errorf("aggregate: end transaction: %w", err)
	}
	if !committed {
		w.m.aborted.Inc()
		w.cfg.log.Info("transaction aborted; batch undone and replayed from the committed offsets")
	}
	return committed, nil
}

// abort ends the open batch without committing it.
func (w *Worker) abort(ctx context.Context) error {
	if w.sess != nil && w.txnOpen {
		_, err := w.sess.End(ctx, kgo.TryAbort)
		w.txnOpen = false
		w.m.aborted.Inc()
		w.takeProduceErr()
		if err != nil {
			w.dropHeld()
			w.out.forget()
			w.rollback()
			return fmt.Errorf("aggregate: abort transaction: %w", err)
		}
		w.recycle() // End waited out every buffered record
		w.out.reset()
	} else if w.sess == nil {
		w.dropHeld() // produced records may be in flight
		w.out.forget()
		w.cl.SetOffsets(w.cl.CommittedOffsets())
	} else {
		w.recycle() // no transaction open: nothing produced
		w.out.reset()
	}
	w.rollback()
	return nil
}

func (w *Worker) rollback() {
	w.pace.full = false
	for _, p := range w.parts {
		p.rollback()
	}
}

// advanceIdle raises every idle partition's watermark to the worker
// watermark: the minimum over the partitions that are not idle. A
// partition that is not idle but has no watermark yet holds it back.
func (w *Worker) advanceIdle(now time.Time) {
	wwm := int64(math.MaxInt64)
	active := false
	for _, p := range w.parts {
		if p.wm.idle(now, w.cfg.idleTimeout) {
			continue
		}
		if p.wm.wm == minWatermark {
			return
		}
		active = true
		wwm = min(wwm, p.wm.wm)
	}
	if !active {
		return
	}
	for _, p := range w.parts {
		if p.wm.idle(now, w.cfg.idleTimeout) && p.wm.wm < wwm {
			p.wm.raise(wwm)
			p.changed = true
		}
	}
}

// report updates the gauges and logs hot keys, once per reportInterval.
func (w *Worker) report(now time.Time) {
	el := now.Sub(w.lastReport)
	if el < reportInterval {
		return
	}
	w.lastReport = now
	var windows, bytes, ids int64
	w.m.hotKey.Reset()
	var hot []HotKey
	for _, p := range w.parts {
		windows += int64(len(p.windows))
		bytes += p.stateBytes()
		ids += int64(p.dedup.len())
		p.m.load.Set(float64(p.events) / el.Seconds())
		p.events = 0
		if p.wm.wm != minWatermark {
			p.m.watermark.Set(float64(p.wm.wm) / 1000)
		}
		for _, h := range p.hotKeys(w.cfg.hotShare, el) { // hotkeyrate.go
			hot = append(hot, h)
			w.m.hotKey.WithLabelValues(strconv.Itoa(int(h.Partition)), h.Key).Set(h.Share)
			id := strconv.Itoa(int(h.Partition)) + "/" + h.Key
			if len(w.hotLogged) > 1024 {
				clear(w.hotLogged)
			}
			if !w.hotLogged[id] {
				w.hotLogged[id] = true
				w.cfg.log.Info("hot key", "partition", h.Partition, "key", h.Key, "share", h.Share)
			}
		}
	}
	w.mu.Lock()
	w.hotKeys = hot
	w.mu.Unlock()
	w.m.openWindows.Set(float64(windows))
	w.m.stateBytes.Set(float64(bytes))
	w.m.dedupIDs.Set(float64(ids))
}
