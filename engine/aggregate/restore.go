package aggregate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/total"
)

// ensureChangelogOnce runs ensureChangelog with a short-lived admin client.
func (w *Worker) ensureChangelogOnce(ctx context.Context) error {
	opts, err := w.cfg.conn.Opts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts, w.cfg.clientOpts...)...)
	if err != nil {
		return fmt.Errorf("aggregate: %w", err)
	}
	defer cl.Close()
	return w.ensureChangelog(ctx, kadm.NewClient(cl))
}

// ensureChangelog creates the dedup changelog topic, partitioned like the
// events topic, when it is missing (retention -1: restore reads it back).
// It waits for the events topic to exist.
func (w *Worker) ensureChangelog(ctx context.Context, adm *kadm.Client) error {
	for {
		tds, err := adm.ListTopics(ctx, w.cfg.topics.Events)
		if err == nil {
			if td, ok := tds[w.cfg.topics.Events]; ok && td.Err == nil && len(td.Partitions) > 0 {
				w.partitions = int32(len(td.Partitions))
				if w.cfg.atLeastOnce {
					return nil
				}
				resp, err := adm.CreateTopic(ctx, int32(len(td.Partitions)), -1,
					map[string]*string{"retention.ms": kadm.StringPtr("-1")}, w.cfg.changelog)
				if err == nil {
					err = resp.Err
				}
				if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
					return fmt.Errorf("aggregate: create changelog topic %s: %w", w.cfg.changelog, err)
				}
				return nil
			}
		}
		w.cfg.log.Info("waiting for the events topic", "topic", w.cfg.topics.Events, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// restore rebuilds the state of partitions ps from Kafka, before any of
// their records is processed:
//
//   - the open windows' totals: the last committed total of every record
//     key of partition p of the aggregates topic, unless Closed;
//   - the dedup ids and the watermark: every record of partition p of the
//     changelog topic, replayed in order, keeping the ids whose bucket is
//     inside the horizon of the last watermark.
//
// Both are read read_committed up to an end where the last stable offset
// equals the high watermark: no transaction is open on those partitions,
// so every transaction whose offsets the group coordinator has (the
// offsets were fetched stable, KIP-447, before this runs) has its output
// fully visible. The restored state is therefore exactly the state as of
// the committed consumer offset: the totals, ids and watermark written
// together with it in the same transactions.
func (w *Worker) restore(ctx context.Context, adm *kadm.Client, ps []int32) (map[int32]*partition, error) {
	start := time.Now()
	out := make(map[int32]*partition, len(ps))
	for _, p := range ps {
		out[p] = newPartition(p, w.dedupWidth, start)
		out[p].enrich = w.cfg.enrich != nil
	}
	if len(ps) == 0 {
		return out, nil
	}
	topics := []string{w.cfg.topics.Aggregates}
	if !w.cfg.atLeastOnce {
		topics = append(topics, w.cfg.changelog)
	}
	ends, err := w.waitStable(ctx, adm, topics, ps)
	if err != nil {
		return nil, err
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("aggregate: list start offsets: %w", err)
	}
	from, err := w.changelogFrom(ctx, adm, starts, ends[w.cfg.changelog])
	if err != nil {
		return nil, err
	}
	consume := make(map[string]map[int32]kgo.Offset)
	for t, m := range ends {
		for p, end := range m {
			s, ok := starts.Lookup(t, p)
			if !ok || s.Err != nil {
				continue
			}
			if t == w.cfg.changelog {
				if f, ok := from[p]; ok && f > s.Offset {
					s.Offset = f
				}
			}
			if s.Offset >= end {
				continue
			}
			if consume[t] == nil {
				consume[t] = make(map[int32]kgo.Offset)
			}
			consume[t][p] = kgo.NewOffset().At(s.Offset)
		}
	}
	last := make(map[int32]map[string]total.Total, len(ps))
	subs := make(map[int32]*restoredSubs)
	err = w.readRange(ctx, consume, ends, func(r *kgo.Record) error {
		return w.restoreRecord(out[r.Partition], last, subs, r)
	})
	if err != nil {
		return nil, err
	}
	windows := 0
	for p, st := range out {
		for _, t := range last[p] {
			if !t.Closed {
				st.install(t, w.cfg.lateness, subs[p].of(&t))
				windows++
			}
		}
		st.dedup.expire(st.wm.wm, w.cfg.horizon)
		st.wmStart = st.wm
	}
	d := time.Since(start)
	w.m.restoreTime.Observe(d.Seconds())
	w.cfg.log.Info("restored partitions", "partitions", ps, "open_windows", windows, "took", d)
	return out, nil
}

// changelogTail is how many offsets before its end changelogFrom reads of
// a changelog partition to find its last committed record.
const changelogTail = 16

// changelogFrom is, per changelog partition, the first offset restore must
// read (none: from the log start). Changelog records carry the partition
// watermark W_r at their commit (commit.go). An id in a record with
// watermark W_r is of an event with time t and record timestamp ref that
// was either observed: W_r >= min(t, ref) - O >= t - A_r - O, where A_r,
// the largest t - ref observed on the partition until then
// (watermark.ahead, at most the max future skew), is in the record and
// never decreases, so A_r <= A, the last record's; or too late (dedup.go
// remembers those too): a window of t ended, plus the lateness, by the
// watermark before it, so W_r > t >= t - A_r - O as well. Restore needs only the ids whose bucket
// ends after W - H (W: the watermark of the partition's last committed
// record; buckets start <= t and are width w long), so t > W - H - w,
// hence W_r > W - H - O - w - A: every record with a timestamp (its W_r,
// never < 0) below W - H - O - w - A holds no id still needed. W is read from the last committed record (the last
// changelogTail offsets of the partition, read_committed; none there, e.g.
// after many aborts: the whole partition is read), not from the largest
// timestamp: the transaction markers carry the broker's wall-clock time,
// which is not in the watermark's (event-time) domain. The read starts at
// the first offset with a timestamp >= that bound (Kafka's ListOffsets by
// time; a marker there only makes the read start earlier), so restore
// reads about one horizon of changelog, however long the history.
func (w *Worker) changelogFrom(ctx context.Context, adm *kadm.Client, starts kadm.ListedOffsets, ends map[int32]int64) (map[int32]int64, error) {
	if w.cfg.atLeastOnce {
		return nil, nil
	}
	tail := make(map[int32]kgo.Offset)
	for p, end := range ends {
		if s, ok := starts.Lookup(w.cfg.changelog, p); ok && s.Err == nil && s.Offset < end {
			tail[p] = kgo.NewOffset().At(max(s.Offset, end-changelogTail))
		}
	}
	lastWM := make(map[int32]watermark)
	err := w.readRange(ctx, map[string]map[int32]kgo.Offset{w.cfg.changelog: tail}, map[string]map[int32]int64{w.cfg.changelog: ends},
		func(r *kgo.Record) error {
			wm, err := readChangelog(r.Value, w.dedupWidth, func(idHash, int64) {})
			if err != nil {
				return fmt.Errorf("aggregate: changelog %d@%d: %w", r.Partition, r.Offset, err)
			}
			lastWM[r.Partition] = wm
			return nil
		})
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64)
	bounds := make(map[int64][]int32)
	for p, wm := range lastWM {
		if wm.wm == minWatermark {
			continue // everything is needed
		}
		b := wm.wm - w.cfg.horizon - w.cfg.outOfOrder - w.dedupWidth - wm.ahead
		if b > 0 {
			bounds[b] = append(bounds[b], p)
		}
	}
	for b, ps := range bounds {
		after, err := adm.ListOffsetsAfterMilli(ctx, b, w.cfg.changelog)
		if err != nil {
			return nil, fmt.Errorf("aggregate: list changelog offsets after %d: %w", b, err)
		}
		for _, p := range ps {
			if o, ok := after.Lookup(w.cfg.changelog, p); ok && o.Err == nil && o.Offset >= 0 {
				out[p] = o.Offset
			}
		}
	}
	return out, nil
}

// readRange reads, read_committed, every partition in consume from its
// offset up to (excluding) its end in ends, calling fn for every data
// record in offset order per partition; it returns fn's first error.
func (w *Worker) readRange(ctx context.Context, consume map[string]map[int32]kgo.Offset, ends map[string]map[int32]int64, fn func(*kgo.Record) error) error {
	remaining := 0
	for _, m := range consume {
		remaining += len(m)
	}
	if remaining == 0 {
		return nil
	}
	opts, err := w.cfg.conn.Opts()
	if err != nil {
		return err
	}
	opts = append(opts, w.cfg.clientOpts...)
	opts = append(opts,
		kgo.ConsumePartitions(consume),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			ferr = fmt.Errorf("aggregate: restore %s/%d: %w", t, p, err)
		})
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			end := ends[r.Topic][r.Partition]
			if r.Offset >= end {
				return // past the stable end we restore to
			}
			if !r.Attrs.IsControl() && ferr == nil {
				ferr = fn(r)
			}
			if r.Offset == end-1 {
				remaining--
			}
		})
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

func (w *Worker) restoreRecord(p *partition, last map[int32]map[string]total.Total, subs map[int32]*restoredSubs, r *kgo.Record) error {
	if p == nil {
		return nil
	}
	switch r.Topic {
	case w.cfg.topics.Aggregates:
		if r.Value == nil {
			delete(last[p.id], string(r.Key))
			return nil
		}
		t, err := total.Unmarshal(r.Value)
		if err != nil {
			w.cfg.log.Warn("skipping undecodable aggregates record", "partition", r.Partition, "offset", r.Offset, "err", err)
			return nil
		}
		if t.Sub != int(p.id) {
			return nil
		}
		m := last[p.id]
		if m == nil {
			m = make(map[string]total.Total)
			last[p.id] = m
		}
		m[string(r.Key)] = t
	case w.cfg.changelog:
		got, rest, err := readChangelogRest(r.Value, p.dedup.width, p.dedup.restore)
		if err != nil {
			return fmt.Errorf("aggregate: changelog %d@%d: %w", r.Partition, r.Offset, err)
		}
		p.wm.merge(got)
		if p.enrich && len(rest) > 0 {
			if err := w.restoreSubs(p, subs, rest); err != nil {
				return fmt.Errorf("aggregate: changelog %d@%d: %w", r.Partition, r.Offset, err)
			}
		}
	}
	return nil
}

// waitStable waits until no transaction is open on partitions ps of topics
// (last stable offset == high watermark) and returns those end offsets.
func (w *Worker) waitStable(ctx context.Context, adm *kadm.Client, topics []string, ps []int32) (map[string]map[int32]int64, error) {
	for tries := 0; ; tries++ {
		hwm, err1 := adm.ListEndOffsets(ctx, topics...)
		lso, err2 := adm.ListCommittedOffsets(ctx, topics...)
		stable := err1 == nil && err2 == nil
		ends := make(map[string]map[int32]int64, len(topics))
		for _, t := range topics {
			ends[t] = make(map[int32]int64, len(ps))
			for _, p := range ps {
				if !stable {
					break
				}
				h, ok1 := hwm.Lookup(t, p)
				l, ok2 := lso.Lookup(t, p)
				if !ok1 || !ok2 || h.Err != nil || l.Err != nil || h.Offset != l.Offset {
					w.cfg.log.Debug("not stable", "topic", t, "partition", p, "hwm", h, "lso", l)
					stable = false
					break
				}
				ends[t][p] = h.Offset
			}
		}
		if stable {
			return ends, nil
		}
		if tries%20 == 19 {
			w.cfg.log.Info("restore waiting for open transactions to end", "topics", topics, "partitions", ps, "err", errors.Join(err1, err2))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// restoredSubs are the sub-totals restore read for one partition.
type restoredSubs struct {
	m       map[subKey][]sub
	records int
}

func (r *restoredSubs) of(t *total.Total) []sub {
	if r == nil {
		return nil
	}
	return r.m[subKey{t.Type + "\x00" + t.Key + "\x00" + t.DimSet, t.Size, t.Start}]
}

// restoreSubs adds one changelog record's sub-totals (subtotal.go) to
// those restored so far, in record order: the operations the worker did
// at each commit. Windows the record's watermark closed are left out
// (their Closed total is in the same transaction), and dropped every
// 1024 records.
func (w *Worker) restoreSubs(p *partition, subs map[int32]*restoredSubs, b []byte) error {
	r := subs[p.id]
	if r == nil {
		r = &restoredSubs{m: make(map[subKey][]sub)}
		subs[p.id] = r
	}
	closed := func(k subKey) bool { return k.start+k.size+w.cfg.lateness <= p.wm.wm }
	if r.records++; r.records%1024 == 0 {
		maps.DeleteFunc(r.m, func(k subKey, _ []sub) bool { return closed(k) })
	}
	return readSubs(b, func(k subKey, delta []sub) {
		if closed(k) {
			delete(r.m, k)
			return
		}
		r.m[k] = foldSubs(r.m[k], delta) // copies delta (readSubs reuses it)
	})
}
