package difftest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/kafka"
)

// cluster is an in-process kfake broker with the engine's topics.
type cluster struct {
	conn   kafka.Conn
	topics kafka.Topics
	cl     *kgo.Client
	adm    *kadm.Client
	parts  int32
}

func newCluster(t testing.TB, parts int32) *cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	conn := kafka.Conn{Brokers: c.ListenAddrs()}
	opts, err := conn.Opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	k := &cluster{conn: conn, topics: kafka.DefaultTopics(""), cl: cl, adm: kadm.NewClient(cl), parts: parts}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, cl, k.topics, parts, 1); err != nil {
		t.Fatal(err)
	}
	return k
}

// startWorker runs one engine worker until the test ends.
func (k *cluster) startWorker(t testing.TB, txnID string) {
	t.Helper()
	w, err := aggregate.New(aggregate.Conn(k.conn), aggregate.Topics(k.topics), aggregate.TransactionalID(txnID),
		aggregate.Windows(testWindows...), aggregate.IdleTimeout(time.Hour), aggregate.CommitInterval(50*time.Millisecond),
		aggregate.Logger(testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := w.Run(ctx)
		if ctx.Err() == nil {
			t.Errorf("the worker stopped: %v", err)
		}
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the worker did not stop in 30s")
		}
	})
}

func testLogger() *slog.Logger {
	if os.Getenv("COUNTLAB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// produce writes the inputs to the events topic, each with its ref as the
// record timestamp, in its partition (or a random one).
func (k *cluster) produce(t testing.TB, ins []input) {
	t.Helper()
	rs := make([]*kgo.Record, len(ins))
	for i, in := range ins {
		rs[i] = &kgo.Record{Topic: k.topics.Events, Partition: in.partition, Value: in.value, Timestamp: time.UnixMilli(in.ref)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// waitCommitted waits until the engine's group has committed every
// events record (moved copies included; the end offsets also count
// transaction markers, which the group's offsets never pass).
func (k *cluster) waitCommitted(t testing.TB, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last string
	for {
		want := k.ends(t)
		got, err := k.adm.FetchOffsets(ctx, aggregate.DefaultGroup)
		if err == nil {
			done := true
			last = ""
			for p, end := range want {
				c, _ := got.Lookup(k.topics.Events, p)
				last += fmt.Sprintf(" p%d: %d of %d", p, c.At, end)
				done = done && c.At >= end
			}
			// The batch that committed those offsets may have moved
			// records (copies produced to the events topic in its
			// transaction) after want was read: done only if the topic
			// has nothing more now.
			if done && maps.Equal(want, k.ends(t)) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the engine did not commit every events record in %v (last error %v):%s", timeout, err, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ends is each events partition's last committed record offset + 1.
func (k *cluster) ends(t testing.TB) map[int32]int64 {
	out := map[int32]int64{}
	for _, r := range k.read(t, k.topics.Events) {
		out[r.Partition] = r.Offset + 1
	}
	return out
}

// read is every committed record of topic, in (partition, offset) order:
// up to each partition's last stable offset, once no transaction is open.
func (k *cluster) read(t testing.TB, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stop := map[int32]int64{} // partition -> its last stable offset
	for len(stop) == 0 {
		hwm, err1 := k.adm.ListEndOffsets(ctx, topic)
		lso, err2 := k.adm.ListCommittedOffsets(ctx, topic)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		open := false
		lso.Each(func(o kadm.ListedOffset) {
			h, _ := hwm.Lookup(o.Topic, o.Partition)
			open = open || h.Offset != o.Offset
			stop[o.Partition] = o.Offset
		})
		if open {
			clear(stop)
			time.Sleep(50 * time.Millisecond)
		}
	}
	from := map[int32]kgo.Offset{}
	for p, end := range stop {
		if end > 0 {
			from[p] = kgo.NewOffset().AtStart()
		}
	}
	var out []*kgo.Record
	if len(from) == 0 {
		return out
	}
	opts, _ := k.conn.Opts()
	cl, err := kgo.NewClient(append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.FetchMaxWait(100*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for len(from) > 0 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachPartition(func(fp kgo.FetchTopicPartition) {
			for _, r := range fp.Records {
				if r.Offset < stop[r.Partition] && !r.Attrs.IsControl() {
					out = append(out, r)
				}
				if r.Offset >= stop[r.Partition]-1 {
					delete(from, r.Partition)
				}
			}
		})
	}
	if ctx.Err() != nil {
		t.Fatalf("reading %s: %v", topic, ctx.Err())
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Partition < out[j].Partition || out[i].Partition == out[j].Partition && out[i].Offset < out[j].Offset
	})
	return out
}
