package broker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// rec is a record as stored: where it is and what it holds.
type rec struct {
	Topic string
	Part  int32
	Off   int64
	Key   string
	Val   string
}

func (r rec) String() string {
	return fmt.Sprintf("%s/%d@%d %s=%s", r.Topic, r.Part, r.Off, r.Key, r.Val)
}

func sortRecs(rs []rec) {
	slices.SortFunc(rs, func(a, b rec) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		if a.Part != b.Part {
			return int(a.Part - b.Part)
		}
		return int(a.Off - b.Off)
	})
}

func newTestBroker(t *testing.T, opts ...Opt) *Broker {
	t.Helper()
	b, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

func newClient(t *testing.T, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...)}, opts...)...)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes n records to topic with an idempotent acks=all producer
// (franz-go's default) and returns them as acknowledged.
func produce(t *testing.T, ctx context.Context, cl *kgo.Client, topic, prefix string, n int) []rec {
	t.Helper()
	rs := make([]*kgo.Record, n)
	for i := range rs {
		rs[i] = &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%17), Value: fmt.Appendf(nil, "%s-%06d", prefix, i)}
	}
	res := cl.ProduceSync(ctx, rs...)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	out := make([]rec, 0, n)
	for _, r := range res {
		out = append(out, rec{r.Record.Topic, r.Record.Partition, r.Record.Offset, string(r.Record.Key), string(r.Record.Value)})
	}
	return out
}

// readAll consumes topic from the start until want records have arrived and
// then nothing more for a while, or until the deadline. It returns what it
// read, sorted.
func readAll(t *testing.T, addrs []string, topic string, want int, opts ...kgo.Opt) []rec {
	t.Helper()
	cl := newClient(t, addrs, append([]kgo.Opt{
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, opts...)...)
	var out []rec
	deadline := time.Now().Add(30 * time.Second)
	idle := time.Now()
	for time.Now().Before(deadline) {
		quiet := 3 * time.Second
		if len(out) >= want {
			quiet = 700 * time.Millisecond
		}
		if time.Since(idle) > quiet {
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(tp string, p int32, err error) {
			if ctx.Err() == nil && err != context.DeadlineExceeded {
				t.Fatalf("fetch %s/%d: %v", tp, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, rec{r.Topic, r.Partition, r.Offset, string(r.Key), string(r.Value)})
			idle = time.Now()
		})
	}
	sortRecs(out)
	return out
}

func equalRecs(t *testing.T, what string, got, want []rec) {
	t.Helper()
	sortRecs(want)
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("%s: got %d records, want %d", what, len(got), len(want))
	for i := 0; i < max(len(got), len(want)) && i < 5000; i++ {
		var g, w rec
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("%s: first difference at %d: got %v, want %v", what, i, g, w)
		}
	}
}

// TestRestartKeepsRecordsAndOffsets: records and committed group offsets
// survive Close and New on the same data dir and ports.
func TestRestartKeepsRecordsAndOffsets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	const n = 5000

	b := newTestBroker(t, DataDir(dir), Listen("127.0.0.1:0", "127.0.0.1:0"), Partitions(3))
	addrs := b.Addrs()
	if len(addrs) != 2 {
		t.Fatalf("addrs: %v", addrs)
	}
	for _, a := range addrs {
		if !strings.HasPrefix(a, "127.0.0.1:") {
			t.Fatalf("listening on %s, want 127.0.0.1", a)
		}
	}
	topic := b.Topics().Events
	cl := newClient(t, addrs)
	want := produce(t, ctx, cl, topic, "v", n)

	// Commit the middle of each partition for a group.
	adm := kadm.NewClient(cl)
	commit := make(kadm.Offsets)
	for _, r := range want {
		if o, ok := commit.Lookup(r.Topic, r.Part); !ok || o.At < r.Off/2 {
			commit.AddOffset(r.Topic, r.Part, r.Off/2, -1)
		}
	}
	if len(commit[topic]) != 3 {
		t.Fatalf("records landed on %d partitions, want 3", len(commit[topic]))
	}
	resp, err := adm.CommitOffsets(ctx, "g1", commit)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	cl.Close()
	b.Close()

	b2 := newTestBroker(t, DataDir(dir), Listen(addrs...), Partitions(3))
	if !slices.Equal(b2.Addrs(), addrs) {
		t.Fatalf("reopened on %v, want %v", b2.Addrs(), addrs)
	}
	got := readAll(t, addrs, topic, n)
	equalRecs(t, "records after restart", got, want)

	cl2 := newClient(t, addrs)
	fetched, err := kadm.NewClient(cl2).FetchOffsets(ctx, "g1")
	if err == nil {
		err = fetched.Error()
	}
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	for p, o := range commit[topic] {
		f, ok := fetched.Lookup(topic, p)
		if !ok || f.At != o.At {
			t.Errorf("group offset %s/%d after restart: got %+v (found %v), want %d", topic, p, f.Offset, ok, o.At)
		}
	}
	if len(fetched[topic]) != len(commit[topic]) {
		t.Errorf("group has %d committed partitions after restart, want %d", len(fetched[topic]), len(commit[topic]))
	}
}

// TestRestartKeepsTransactions: a committed transaction is visible after
// restart under read_committed, an aborted one is not.
func TestRestartKeepsTransactions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()

	b := newTestBroker(t, DataDir(dir), Partitions(2))
	addrs := b.Addrs()
	topic := b.Topics().Aggregates
	cl := newClient(t, addrs, kgo.TransactionalID("countlab-test-tx"), kgo.DefaultProduceTopic(topic))

	var committed []rec
	txn := func(prefix string, n int, commit bool) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		rs := produce(t, ctx, cl, topic, prefix, n)
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end txn: %v", err)
		}
		if commit {
			committed = append(committed, rs...)
		}
	}
	txn("commit1", 300, true)
	txn("abort1", 200, false)
	txn("commit2", 100, true)
	txn("abort2", 50, false)
	cl.Close()
	b.Close()

	b2 := newTestBroker(t, DataDir(dir), Listen(addrs...), Partitions(2))
	got := readAll(t, b2.Addrs(), topic, len(committed), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	equalRecs(t, "read_committed after restart", got, committed)

	// The transactional id works on after the restart.
	cl2 := newClient(t, addrs, kgo.TransactionalID("countlab-test-tx"), kgo.DefaultProduceTopic(topic))
	cl = cl2
	txn("commit3", 10, true)
	got = readAll(t, addrs, topic, len(committed), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	equalRecs(t, "read_committed after restart and another commit", got, committed)
}

func TestOptionsValidate(t *testing.T) {
	f := func(name string, wantErr string, opts ...Opt) {
		t.Helper()
		b, err := New(opts...)
		if err == nil {
			b.Close()
			t.Fatalf("%s: New succeeded, want error containing %q", name, wantErr)
		}
		if !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("%s: error %q does not contain %q", name, err, wantErr)
		}
	}
	f("all interfaces v4", "every interface", Listen("0.0.0.0:0"))
	f("all interfaces v6", "every interface", Listen("[::]:0"))
	f("no port", "host:port", Listen("127.0.0.1"))
	f("bad port", "0..65535", Listen("127.0.0.1:99999"))
	f("no address", "no listen address", Listen())
	f("zero partitions", "partitions must be > 0", Partitions(0))
	f("duplicate", "given twice", Listen("127.0.0.1:19092", "127.0.0.1:19092"))
}

func TestListenEmptyHostIsLoopback(t *testing.T) {
	b := newTestBroker(t, Listen(":0"))
	if a := b.Addrs()[0]; !strings.HasPrefix(a, "127.0.0.1:") {
		t.Fatalf("listening on %s, want 127.0.0.1", a)
	}
}

func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	b := newTestBroker(t, DataDir(dir))
	if b2, err := New(DataDir(dir)); err == nil {
		b2.Close()
		t.Fatal("a second broker opened a data dir in use")
	} else if !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second broker on the same data dir: %v, want 'in use'", err)
	}
	b.Close()
	b3 := newTestBroker(t, DataDir(dir))
	b3.Close()
}
