package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/total"
)

// topicView collects, from the aggregates topic, the newest committed total
// of every window of the given sizes whose start is in [from, to), keyed by
// total.RecordKey (what the sink and the query service end with).
type topicView struct {
	sizes    []int64
	from, to int64
	latest   map[string]*total.Total
	bad      int64
}

func newTopicView(sizes []int64, from, to int64) *topicView {
	return &topicView{sizes: sizes, from: from, to: to, latest: make(map[string]*total.Total)}
}

func (v *topicView) add(r *kgo.Record) {
	if r.Value == nil {
		return // a tombstone
	}
	t, err := total.Unmarshal(r.Value)
	if err != nil {
		v.bad++
		return
	}
	if t.Start < v.from || t.Start >= v.to {
		return
	}
	found := false
	for _, s := range v.sizes {
		found = found || s == t.Size
	}
	if !found {
		return
	}
	v.latest[string(t.RecordKey())] = &t
}

// publish writes ts (absolute totals, Closed) to the aggregates topic in one
// transaction of the transactional id txnID: partition t.Sub, key
// t.RecordKey(), value t.Marshal(). It commits or returns an error (then
// nothing of it is visible to read_committed readers).
func publish(ctx context.Context, base []kgo.Opt, topic, txnID string, ts []total.Total, timeout time.Duration, log *slog.Logger) error {
	recs := make([]*kgo.Record, len(ts))
	for i := range ts {
		t := &ts[i]
		v, err := t.Marshal()
		if err != nil {
			return fmt.Errorf("reconcile: publish %d totals to %s: %w", len(ts), topic, err) // never a total written as 0
		}
		recs[i] = &kgo.Record{Topic: topic, Partition: int32(t.Sub), Key: t.RecordKey(), Value: v}
	}
	return publishRecords(ctx, base, txnID, recs, timeout, log)
}

// publishRecords produces recs in one transaction of txnID; it commits or
// returns an error.
func publishRecords(ctx context.Context, base []kgo.Opt, txnID string, recs []*kgo.Record, timeout time.Duration, log *slog.Logger) error {
	if len(recs) == 0 {
		return nil
	}
	topic := recs[0].Topic
	cl, err := kgo.NewClient(append(base,
		kgo.TransactionalID(txnID),
		kgo.TransactionTimeout(max(timeout, 10*time.Second)),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
	)...)
	if err != nil {
		return fmt.Errorf("reconcile: kafka producer: %w", err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("reconcile: begin transaction: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	perr := cl.ProduceSync(pctx, recs...).FirstErr()
	// End under its own deadline: a canceled run must still abort cleanly.
	ectx, ecancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer ecancel()
	if perr != nil {
		if err := cl.EndTransaction(ectx, kgo.TryAbort); err != nil {
			log.Warn("abort after a failed publish", "err", err)
		}
		return fmt.Errorf("reconcile: publish %d totals to %s: %w", len(recs), topic, perr)
	}
	if err := cl.EndTransaction(ectx, kgo.TryCommit); err != nil {
		return fmt.Errorf("reconcile: commit %d totals to %s: %w", len(recs), topic, err)
	}
	return nil
}
