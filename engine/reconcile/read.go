package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// readTopic calls fn, in offset order per partition, for every committed
// data record of every partition of topic from its log start up to its last
// stable offset when the read starts (records written later are not
// read). Control records are kept by the client only to see where a
// partition ends. A partition whose last offsets before the end are
// aborted records (so nothing at end-1 is ever returned) is taken as done
// after idle without records.
func readTopic(ctx context.Context, base []kgo.Opt, topic string, idle time.Duration, log *slog.Logger, fn func(*kgo.Record)) error {
	adm, err := kgo.NewClient(base...)
	if err != nil {
		return fmt.Errorf("reconcile: kafka client: %w", err)
	}
	starts, ends, err := bounds(ctx, kadm.NewClient(adm), topic)
	adm.Close()
	if err != nil {
		return err
	}
	from := make(map[int32]kgo.Offset)
	end := make(map[int32]int64)
	for p, e := range ends {
		if s := starts[p]; e > s {
			from[p] = kgo.NewOffset().At(s)
			end[p] = e
		}
	}
	if len(end) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(base,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("reconcile: kafka client: %w", err)
	}
	defer cl.Close()
	for len(end) > 0 {
		pctx, cancel := context.WithTimeout(ctx, idle)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		if fs.NumRecords() == 0 && pctx.Err() != nil {
			log.Warn("no records before the end offsets; taking the partitions as read (their last records were aborted)",
				"topic", topic, "partitions", end, "idle", idle)
			return nil
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("reconcile: fetch %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			e, ok := end[r.Partition]
			if !ok || r.Offset >= e {
				return
			}
			if r.Offset >= e-1 {
				delete(end, r.Partition)
			}
			if !r.Attrs.IsControl() {
				fn(r)
			}
		})
	}
	return nil
}

// bounds are the log start and last stable offsets of topic's partitions.
// A missing topic has none.
func bounds(ctx context.Context, adm *kadm.Client, topic string) (starts, ends map[int32]int64, err error) {
	get := func(l kadm.ListedOffsets, err error) (map[int32]int64, error) {
		if err != nil {
			return nil, err
		}
		m := make(map[int32]int64)
		var lerr error
		l.Each(func(o kadm.ListedOffset) {
			if o.Err != nil && !errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
				lerr = o.Err
			}
			if o.Err == nil {
				m[o.Partition] = o.Offset
			}
		})
		return m, lerr
	}
	if starts, err = get(adm.ListStartOffsets(ctx, topic)); err != nil {
		return nil, nil, fmt.Errorf("reconcile: start offsets of %s: %w", topic, err)
	}
	if ends, err = get(adm.ListCommittedOffsets(ctx, topic)); err != nil {
		return nil, nil, fmt.Errorf("reconcile: end offsets of %s: %w", topic, err)
	}
	return starts, ends, nil
}

// partitionCount is the number of partitions of topic (the canonical
// partitions are computed over it); 1 when it does not exist.
func partitionCount(ctx context.Context, base []kgo.Opt, topic string) (int32, error) {
	cl, adm, err := newAdmin(base)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("reconcile: metadata of %s: %w", topic, err)
	}
	td, ok := tds[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) || (td.Err == nil && len(td.Partitions) == 0) {
		return 1, nil // no topic: nothing is read
	}
	if td.Err != nil {
		return 0, fmt.Errorf("reconcile: metadata of %s: %w", topic, td.Err)
	}
	return int32(len(td.Partitions)), nil
}
