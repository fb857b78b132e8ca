package reconcile_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/total"
)

// commitEnd commits group's offsets of topic at every partition's end.
func commitEnd(t *testing.T, ctx context.Context, cl *kgo.Client, group, topic string) {
	t.Helper()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var os kadm.Offsets
	ends.Each(func(o kadm.ListedOffset) {
		os.AddOffset(o.Topic, o.Partition, o.Offset, -1)
	})
	if err := adm.CommitAllOffsets(ctx, group, os); err != nil {
		t.Fatal(err)
	}
}

// latest reads topic read_committed up to its last stable offsets and
// returns the newest total of every record key.
func latest(t *testing.T, ctx context.Context, addrs []string, topic string) map[string]total.Total {
	t.Helper()
	adm, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	ends, err := kadm.NewClient(adm).ListCommittedOffsets(ctx, topic)
	adm.Close()
	if err != nil {
		t.Fatal(err)
	}
	end := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			end[o.Partition] = o.Offset
		}
	})
	out := map[string]total.Total{}
	if len(end) == 0 {
		return out
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(end) > 0 {
		fs := cl.PollFetches(rctx)
		if err := rctx.Err(); err != nil {
			t.Fatalf("reading %s: %v (left %v)", topic, err, end)
		}
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatal(err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if e, ok := end[r.Partition]; ok && r.Offset >= e-1 {
				delete(end, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			tt, err := total.Unmarshal(r.Value)
			if err != nil {
				t.Fatalf("%s/%d@%d: %v", topic, r.Partition, r.Offset, err)
			}
			out[string(r.Key)] = tt
		})
	}
	return out
}
