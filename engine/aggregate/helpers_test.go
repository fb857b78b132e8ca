package aggregate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/total"
)

// base is an hour-aligned event time all tests count around.
const base = int64(1_767_225_600_000) // 2026-01-01T00:00:00Z

type env struct {
	t      testing.TB
	conn   kafka.Conn
	topics kafka.Topics
	cl     *kgo.Client
	adm    *kadm.Client
	parts  int32

	cluster *kfake.Cluster
}

func (e *env) close() {
	e.cl.Close()
	e.cluster.Close()
}

func newEnv(t testing.TB, parts int32) *env {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	conn := kafka.Conn{Brokers: c.ListenAddrs()}
	opts, _ := conn.Opts()
	cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, conn: conn, topics: kafka.DefaultTopics(""), cl: cl, adm: kadm.NewClient(cl), parts: parts, cluster: c}
	t.Cleanup(e.close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, cl, e.topics, parts, 1); err != nil {
		t.Fatal(err)
	}
	return e
}

func testLogger() *slog.Logger {
	if os.Getenv("COUNTLAB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// worker starts a worker; stop cancels it and waits for Run to return.
func (e *env) worker(opts ...Opt) (w *Worker, stop func() error) {
	e.t.Helper()
	base := []Opt{Conn(e.conn), Logger(testLogger()), TransactionalID("test-txn-0"),
		Windows(10*time.Second, time.Minute), IdleTimeout(time.Hour), HotKeys(testHot)}
	w, err := New(append(base, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.start(w)
}

func (e *env) start(w *Worker) (*Worker, func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				err = errors.New("worker did not stop in 60s")
			}
		})
		return err
	}
	e.t.Cleanup(func() { stop() })
	return w, stop
}

// testHot is the hot-key split of every test worker (HotKeys) and of gen.
var testHot = map[string]int{"hot": 4}

// canon is the canonical partition of e on a topic of parts partitions.
func canon(e *event.Event, parts int32) int32 {
	return kafka.Partition(kafka.AppendRecordKey(nil, testHot, e.Key, e.ID), parts)
}

// keyOn is a key "prefixN" whose canonical partition (not hot) is p.
func keyOn(prefix string, p, parts int32) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s%d", prefix, i)
		if kafka.Partition([]byte(k), parts) == p {
			return k
		}
	}
}

// tev is one test event: what is produced and where.
type tev struct {
	p   int32 // its canonical partition (produce checks)
	e   event.Event
	raw []byte // non-nil: a malformed value produced as is
	// late marks an event the test built to be too late; it must land in
	// the late topic and not be counted.
	late bool
	json bool
	// direct leaves the record timestamp at the client default (the
	// produce time), as a Kafka-direct producer must; otherwise it is the
	// event time.
	direct bool
}

func (e *env) produce(evs []tev) {
	e.t.Helper()
	rs := make([]*kgo.Record, 0, len(evs))
	for i := range evs {
		v := evs[i].raw
		if v == nil {
			if evs[i].json {
				v = event.AppendJSON(nil, &evs[i].e)
			} else {
				v = event.AppendProto(nil, &evs[i].e)
			}
		}
		r := &kgo.Record{Topic: e.topics.Events, Partition: evs[i].p, Key: []byte(evs[i].e.Key), Value: v}
		if evs[i].raw == nil {
			// The record timestamp (the validation's reference time) is
			// the event time: the tests' events are from the past.
			r.Key = kafka.AppendRecordKey(nil, testHot, evs[i].e.Key, evs[i].e.ID)
			if !evs[i].direct {
				r.Timestamp = time.UnixMilli(evs[i].e.TS)
			}
			if c := canon(&evs[i].e, e.parts); c != evs[i].p {
				e.t.Fatalf("test event %s/%s on partition %d, its canonical partition is %d", evs[i].e.Key, evs[i].e.ID, evs[i].p, c)
			}
		}
		rs = append(rs, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

// waitCommitted waits until group has committed every events offset.
func (e *env) waitCommitted(group string, timeout time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		ends, err := e.adm.ListEndOffsets(ctx, e.topics.Events)
		if err == nil {
			var got kadm.OffsetResponses
			got, err = e.adm.FetchOffsets(ctx, group)
			if err == nil {
				done := true
				ends.Each(func(o kadm.ListedOffset) {
					c, ok := got.Lookup(o.Topic, o.Partition)
					if o.Offset > 0 && (!ok || c.At < o.Offset) {
						done = false
					}
				})
				if done {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("group %s did not commit every offset in %v (last err %v)", group, timeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readTopic reads every committed record of topic (read_committed).
func (e *env) readTopic(topic string) []*kgo.Record {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ends map[int32]int64
	for {
		hwm, err1 := e.adm.ListEndOffsets(ctx, topic)
		lso, err2 := e.adm.ListCommittedOffsets(ctx, topic)
		if err1 != nil || err2 != nil {
			e.t.Fatal(err1, err2)
		}
		ends = map[int32]int64{}
		stable := true
		hwm.Each(func(o kadm.ListedOffset) {
			l, _ := lso.Lookup(o.Topic, o.Partition)
			if l.Offset != o.Offset {
				stable = false
			}
			ends[o.Partition] = o.Offset
		})
		if stable {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	consume := map[int32]kgo.Offset{}
	for p, end := range ends {
		if end > 0 {
			consume[p] = kgo.NewOffset().AtStart()
		}
	}
	if len(consume) == 0 {
		return nil
	}
	opts, _ := e.conn.Opts()
	cl, err := kgo.NewClient(append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: consume}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.FetchMaxWait(100*time.Millisecond))...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	left := len(consume)
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			e.t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= ends[r.Partition] {
				return
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if r.Offset == ends[r.Partition]-1 {
				left--
			}
		})
	}
	return out
}

// finalTotals is the last committed total of every record key.
func (e *env) finalTotals() map[string]total.Total {
	e.t.Helper()
	out := map[string]total.Total{}
	for _, r := range e.readTopic(e.topics.Aggregates) {
		t, err := total.Unmarshal(r.Value)
		if err != nil {
			e.t.Fatal(err)
		}
		if got, want := string(r.Key), string(t.RecordKey()); got != want {
			e.t.Fatalf("record key %q, total's own %q", got, want)
		}
		if int32(t.Sub) != r.Partition {
			e.t.Fatalf("total of sub %d in aggregates partition %d", t.Sub, r.Partition)
		}
		out[string(r.Key)] = t
	}
	return out
}

// truth is the independently computed expectation: the events that are
// not malformed and not marked late, each identity (key, id) once (the
// first copy, whatever the others' fields; a first copy marked late is
// not counted, and neither are its repeats), per (size, type, key, dims,
// sub, window), with their values.
func truth(evs []tev, sizes []time.Duration) map[string]total.Total {
	type cell struct{ t total.Total }
	cells := map[string]*cell{}
	seen := map[[2]string]bool{}
	for _, ev := range evs {
		if ev.raw != nil || seen[[2]string{ev.e.Key, ev.e.ID}] {
			continue
		}
		seen[[2]string{ev.e.Key, ev.e.ID}] = true // a late first copy wins too
		if ev.late {
			continue
		}
		for _, sz := range sizes {
			size := sz.Milliseconds()
			start := ev.e.TS - ((ev.e.TS%size)+size)%size
			var dims []string
			for _, d := range ev.e.Dims {
				dims = append(dims, d.Name+"="+d.Value)
			}
			sort.Strings(dims)
			t := total.Total{Key: ev.e.Key, Type: ev.e.Type, DimSet: strings.Join(dims, ","), Sub: int(ev.p), Start: start, Size: size}
			k := fmt.Sprintf("%d|%s|%s|%s|%d|%d", size, t.Type, t.Key, t.DimSet, t.Sub, t.Start)
			c := cells[k]
			if c == nil {
				c = &cell{t: t}
				c.t.Min, c.t.Max = math.Inf(1), math.Inf(-1)
				cells[k] = c
			}
			v := ev.e.Value
			c.t.Count++
			c.t.Sum += v
			c.t.Min = math.Min(c.t.Min, v)
			c.t.Max = math.Max(c.t.Max, v)
		}
	}
	out := map[string]total.Total{}
	for k, c := range cells {
		out[k] = c.t
	}
	return out
}

// compare fails unless got and want hold the same totals (ignoring Closed).
func compare(t *testing.T, got, want map[string]total.Total) {
	t.Helper()
	bad := 0
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			bad++
			if bad <= 10 {
				t.Errorf("missing total %s (want count %d)", k, w.Count)
			}
			continue
		}
		if g.Count != w.Count || g.Sum != w.Sum || g.Min != w.Min || g.Max != w.Max {
			bad++
			if bad <= 10 {
				t.Errorf("total %s: got count=%d sum=%v min=%v max=%v, want count=%d sum=%v min=%v max=%v",
					k, g.Count, g.Sum, g.Min, g.Max, w.Count, w.Sum, w.Min, w.Max)
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			bad++
			if bad <= 10 {
				t.Errorf("unexpected total %s count %d", k, g.Count)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d totals differ", bad, len(want))
	}
}

// gen makes n distinct on-time events on partitions spread over keys,
// types and dims, event times in [from, from+span) with jitter below the
// out-of-orderness (so none is late), starting with id number first.
func gen(parts int32, n, first int, from, span int64) []tev {
	types := []string{"VIEW", "CLICK"}
	out := make([]tev, 0, n)
	for i := range n {
		id := first + i
		key := fmt.Sprintf("k%d", id%13)
		ts := from + int64(i)*span/int64(n) - int64((id*7919)%3000) // jitter < 3s
		if id%10 == 0 {
			// A hot key split over every partition by its producers
			// (record key "hot#N"): one total per partition.
			key = "hot"
		}
		e := event.Event{ID: fmt.Sprintf("id-%d", id), Key: key, Type: types[id%2], Value: float64(id%5 + 1), TS: ts}
		if id%3 == 0 {
			e.Dims = []event.Dim{{Name: "country", Value: []string{"US", "DE"}[id%2]}, {Name: "device", Value: "ios"}}
		}
		out = append(out, tev{p: canon(&e, parts), e: e, json: id%4 == 0})
	}
	return out
}

// withDups inserts a duplicate of every every'th event lag positions after
// it (close enough in event time that it is not late).
func withDups(evs []tev, every, lag int) []tev {
	out := make([]tev, 0, len(evs)+len(evs)/every+1)
	var pending []tev
	due := []int{}
	for i, ev := range evs {
		out = append(out, ev)
		if i%every == 0 {
			pending = append(pending, ev)
			due = append(due, i+lag)
		}
		for len(due) > 0 && due[0] <= i {
			out = append(out, pending[0])
			pending, due = pending[1:], due[1:]
		}
	}
	return append(out, pending...)
}

func kgoLog() []kgo.Opt {
	if os.Getenv("COUNTLAB_KGO_LOG") == "" {
		return nil
	}
	return []kgo.Opt{kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelDebug, nil))}
}
