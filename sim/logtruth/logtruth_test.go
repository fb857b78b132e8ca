package logtruth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/sim/oracle"
)

func cluster(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.SeedTopics(3, "events"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// producer is a client of the cluster at addrs producing to "events".
func producer(t *testing.T, addrs []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("events"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produce(t *testing.T, cl *kgo.Client, rs ...*kgo.Record) {
	t.Helper()
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func ev(id, key string, ts int64) *kgo.Record {
	return &kgo.Record{Topic: "events", Key: []byte(key),
		Value: []byte(fmt.Sprintf(`{"id":%q,"key":%q,"type":"VIEW","ts":%d}`, id, key, ts))}
}

// TestReadCommittedRunTruth reads a log with duplicates, out-of-order
// events, another run's events, an aborted transaction and a malformed
// record: only the run's committed distinct valid events are the truth.
func TestReadCommittedRunTruth(t *testing.T) {
	addrs := cluster(t)
	cl := producer(t, addrs)
	now := time.Now().UnixMilli()
	w0 := now - now%60_000
	var rs []*kgo.Record
	for i := 0; i < 30; i++ {
		rs = append(rs, ev(fmt.Sprintf("r1-%d", i), fmt.Sprintf("k%d", i%4), now-int64(i%3)*1000))
	}
	rs = append(rs, ev("r1-3", "k3", now), ev("r1-4", "k9", now)) // a duplicate; and r1-4 under a second key (a new event)
	rs = append(rs, ev("r2-0", "k1", now), ev("r2-1", "k1", now)) // another run
	rs = append(rs, &kgo.Record{Topic: "events", Key: []byte("k1"), Value: []byte(`{"id":"r1-x","key":"k1","type":"VIEWS","ts":1}`)})
	produce(t, cl, rs...)

	tx, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("events"), kgo.TransactionalID("t1"))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	ctx := context.Background()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(t, tx, ev("r1-aborted", "k0", now))
	if err := tx.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}

	res, err := Read(ctx, ClientOpts(kgo.SeedBrokers(addrs...)), IDPrefix("r1-"), IdleTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if res.Partitions != 3 || res.Records != 35 || res.Matched != 33 || len(res.Unfinished) != 0 {
		t.Fatalf("result %+v", res)
	}
	st := res.Truth.Stats()
	if st.Distinct != 31 || st.Duplicates != 1 || st.Refused[oracle.CodeType] != 1 {
		t.Fatalf("stats %+v", st)
	}
	var total int64
	for _, w := range res.Truth.Windows(oracle.ByKey, false) {
		if w.Start != w0 && w.Start != w0-60_000 {
			t.Errorf("window %+v outside the minute of the events", w)
		}
		total += w.Count
	}
	if total != 31 {
		t.Fatalf("windows count %d events, want 31", total)
	}

	// Without the prefix: both runs; a time range after the events: none.
	all, err := Read(ctx, ClientOpts(kgo.SeedBrokers(addrs...)))
	if err != nil {
		t.Fatal(err)
	}
	if st := all.Truth.Stats(); st.Distinct != 33 {
		t.Fatalf("all runs: %+v", st)
	}
	later, err := Read(ctx, ClientOpts(kgo.SeedBrokers(addrs...)), From(time.Now().Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if later.Records != 0 || later.Truth.Stats().Distinct != 0 {
		t.Fatalf("a range after the log read %+v", later)
	}
}

// TestReadUnreachable: brokers that do not answer are ErrUnreachable,
// within the connect timeout; so is a missing topic.
func TestReadUnreachable(t *testing.T) {
	start := time.Now()
	_, err := Read(context.Background(), ClientOpts(kgo.SeedBrokers("127.0.0.1:1")), ConnectTimeout(time.Second))
	if !errors.Is(err, ErrUnreachable) || time.Since(start) > 10*time.Second {
		t.Fatalf("unreachable brokers: %v after %v", err, time.Since(start))
	}
	addrs := cluster(t)
	if _, err := Read(context.Background(), ClientOpts(kgo.SeedBrokers(addrs...)), Topic("nope"), ConnectTimeout(2*time.Second)); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("missing topic: %v", err)
	}
}

func writeSummary(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := dir + "/" + name
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSummaries reads shard summaries and compares their acknowledged
// counts with the log: fewer in the log fails, more is reported.
func TestSummaries(t *testing.T) {
	dir := t.TempDir()
	a := writeSummary(t, dir, "a.json", `{"countlab_shard_summary":1,"run_id":"r","id_prefix":"r-","segment":"0:1/2","acknowledged":60,"refused":1,"failed":2,"copies":63}`)
	b := writeSummary(t, dir, "b.json", `{"countlab_shard_summary":1,"run_id":"r","id_prefix":"r-","segment":"1/2:1","acknowledged":40}`)
	ss, err := LoadSummaries([]string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if ss.IDPrefix() != "r-" {
		t.Fatal(ss.IDPrefix())
	}
	if c := ss.CompareAcknowledged(100); c.Lost != 0 || c.Unacknowledged != 0 || !strings.Contains(c.String(), "every acknowledged event is in the log") {
		t.Fatalf("%+v", c)
	}
	if c := ss.CompareAcknowledged(98); c.Lost != 2 || !strings.Contains(c.String(), "2 ACKNOWLEDGED EVENTS ARE NOT IN THE LOG") {
		t.Fatalf("%+v %s", c, c)
	}
	if c := ss.CompareAcknowledged(101); c.Unacknowledged != 1 || c.Failed != 2 {
		t.Fatalf("%+v", c)
	}
	for body, want := range map[string]string{
		`{"countlab_shard_summary":2,"id_prefix":"r-"}`:                   "want 1",
		`{"countlab_shard_summary":1,"id_prefix":"q-","segment":"x"}`:     "give the summaries of one run",
		`{"countlab_shard_summary":1,"id_prefix":"r-","segment":"0:1/2"}`: "already given",
		`{"countlab_shard_summary":1,"id_prefix":"r-","acknowledgd":1}`:   "unknown field",
		`[1]`: "not a countlab k6 shard summary",
	} {
		c := writeSummary(t, dir, "c.json", body)
		if _, err := LoadSummaries([]string{a, c}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

// TestReadSettles: a record outside its canonical partition whose moved
// copy is not in the log yet is re-read for (up to) Settle, and the copy
// appended meanwhile is the one counted.
func TestReadSettles(t *testing.T) {
	addrs := cluster(t)
	cl := producer(t, addrs)
	now := time.Now().UnixMilli()
	// A key whose canonical partition (murmur2, 3 partitions) is not 0: the
	// oracle takes a record of it in partition 0 as an original to move.
	key := ""
	for i := 0; key == ""; i++ {
		probe, err := oracle.New(oracle.Config{Partitions: 3})
		if err != nil {
			t.Fatal(err)
		}
		r := ev("r1-0", fmt.Sprintf("s%d", i), now)
		probe.AddRecord(oracle.Record{Partition: 0, Timestamp: now, Key: r.Key, Value: r.Value})
		if probe.Stats().Unmoved == 1 {
			key = string(r.Key)
		}
	}
	orig := ev("r1-0", key, now)
	orig.Partition = 0
	manual, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("events"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer manual.Close()
	produce(t, manual, orig)
	go func() {
		time.Sleep(time.Second)
		moved := ev("r1-0", key, now)
		moved.Headers = []kgo.RecordHeader{{Key: oracle.MovedHeader, Value: []byte(fmt.Sprintf("0/%d", orig.Offset))}}
		_ = cl.ProduceSync(context.Background(), moved).FirstErr() // murmur2: its canonical partition
	}()
	res, err := Read(context.Background(), ClientOpts(kgo.SeedBrokers(addrs...)), IDPrefix("r1-"), Settle(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if st := res.Truth.Stats(); st.Moved != 1 || st.Unmoved != 0 || st.Distinct != 1 || res.Records != 2 {
		t.Fatalf("after settling: records %d, stats %+v", res.Records, st)
	}
}

// TestReadSplits: records keyed "K#i" for events of key K are a split the
// truth must be told of: Splits names K with the least n the sub-keys
// seen need, until HotKeys says K is split that many ways (a record key
// that merely contains '#' is not a split).
func TestReadSplits(t *testing.T) {
	addrs := cluster(t)
	cl := producer(t, addrs)
	now := time.Now().UnixMilli()
	split := func(id, key, recKey string) *kgo.Record {
		r := ev(id, key, now)
		r.Key = []byte(recKey)
		return r
	}
	produce(t, cl, split("s-1", "hot", "hot#0"), split("s-2", "hot", "hot#3"), split("s-3", "cold", "cold"),
		split("s-4", "a#1", "a#1"), split("s-5", "hot", "hot#x"))
	ctx := context.Background()
	for _, c := range []struct {
		hot  map[string]int
		want map[string]int
	}{
		{nil, map[string]int{"hot": 4}},
		{map[string]int{"hot": 2}, map[string]int{"hot": 4}},
		{map[string]int{"hot": 4}, nil},
	} {
		res, err := Read(ctx, ClientOpts(kgo.SeedBrokers(addrs...)), IDPrefix("s-"), IdleTimeout(2*time.Second),
			Oracle(oracle.Config{Windows: []time.Duration{time.Minute}, HotKeys: c.hot}))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(res.Splits) != fmt.Sprint(c.want) {
			t.Errorf("hot keys %v: splits %v, want %v", c.hot, res.Splits, c.want)
		}
	}
}
