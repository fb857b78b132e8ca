package reconcile_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/influxd"
	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/total"
)

// stack is what a reconcile test runs against: a real influxd, an
// in-process kfake with countlab's topics (partitions each) and a client
// with the manual partitioner; everything stops with the test.
type stack struct {
	ic     influx.Config
	addrs  []string
	conn   kafka.Conn
	cl     *kgo.Client
	topics kafka.Topics
	ctx    context.Context
}

func newStack(t *testing.T, timeout time.Duration) *stack {
	t.Helper()
	srv := influxdtest.Start(t, influxd.StartTimeout(2*time.Minute))
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s := &stack{ic: srv.Config(), addrs: c.ListenAddrs(), topics: kafka.DefaultTopics("")}
	s.conn = kafka.Conn{Brokers: s.addrs}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	s.ctx = ctx
	if s.cl, err = kgo.NewClient(kgo.SeedBrokers(s.addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.cl.Close)
	if err := kafka.EnsureTopics(ctx, s.cl, s.topics, partitions, 1); err != nil {
		t.Fatal(err)
	}
	return s
}

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
	out := map[string]total.Total{}
	for k, v := range latestValues(t, ctx, addrs, topic) {
		tt, err := total.Unmarshal(v)
		if err != nil {
			t.Fatalf("%s %s: %v", topic, k, err)
		}
		out[k] = tt
	}
	return out
}

// latestValues is the newest value of every record key of topic (read
// committed, up to its last stable offsets).
func latestValues(t *testing.T, ctx context.Context, addrs []string, topic string) map[string][]byte {
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
	out := map[string][]byte{}
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
			out[string(r.Key)] = r.Value
		})
	}
	return out
}
