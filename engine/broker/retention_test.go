package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/kafka"
)

// TestRetention runs the real kfake broker with Retention: records older
// than the events retention leave the log (its start moves past them)
// and newer ones stay, the aggregates topic is compacted to the newest
// record of each key, and a topic created later (the engine's changelog)
// gets the changelog retention.
func TestRetention(t *testing.T) {
	ret := kafka.Retention{Events: time.Minute, Side: time.Hour, Changelog: 20 * time.Minute}
	if err := ret.Validate(0); err != nil {
		t.Fatal(err)
	}
	b := newTestBroker(t, Partitions(1), Retention(ret, 200*time.Millisecond))
	cl := newClient(t, b.Addrs(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics := b.Topics()
	old := time.Now().Add(-2 * time.Minute)
	for i, r := range []*kgo.Record{
		{Topic: topics.Events, Value: []byte("old-1"), Timestamp: old},
		{Topic: topics.Events, Value: []byte("old-2"), Timestamp: old},
		{Topic: topics.Events, Value: []byte("new"), Timestamp: time.Now()},
		{Topic: topics.Aggregates, Key: []byte("w1"), Value: []byte("1")},
		{Topic: topics.Aggregates, Key: []byte("w1"), Value: []byte("2")},
		{Topic: topics.Aggregates, Key: []byte("w2"), Value: []byte("1")},
	} {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil { // one batch each
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	if _, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"retention.ms": kadm.StringPtr("-1")}, "engine-dedup"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		starts, err := adm.ListStartOffsets(ctx, topics.Events)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := starts.Lookup(topics.Events, 0)
		agg := readLog(t, b.Addrs(), topics.Aggregates)
		cfgs, err := adm.DescribeTopicConfigs(ctx, "engine-dedup", topics.Late)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, rc := range cfgs {
			for _, c := range rc.Configs {
				if c.Key == "retention.ms" && c.Value != nil {
					got[rc.Name] = *c.Value
				}
			}
		}
		if s.Offset == 2 && len(agg) == 2 && agg[0] == "w1=2" && got["engine-dedup"] == "1200000" && got[topics.Late] == "3600000" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events log start %d (want 2), aggregates %v (want [w1=2 w2=1]), retention.ms %v", s.Offset, agg, got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := (kafka.Retention{Changelog: 15 * time.Minute}).Validate(10 * time.Minute); err == nil {
		t.Fatal("a changelog retention under twice the horizon was accepted")
	}
}

// readLog is every record of partition 0 of topic from its log start, as
// key=value.
func readLog(t *testing.T, addrs []string, topic string) []string {
	t.Helper()
	cl := newClient(t, addrs, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var out []string
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Key)+"="+string(r.Value)) })
	}
}

// TestRetentionAggregates: with an aggregates retention the topic is
// compacted and time-limited (cleanup.policy compact,delete): a window's
// newest total older than the retention leaves the log, a newer key keeps
// only its newest total.
func TestRetentionAggregates(t *testing.T) {
	ret := kafka.Retention{Aggregates: time.Minute}
	if err := ret.Validate(0); err != nil {
		t.Fatal(err)
	}
	b := newTestBroker(t, Partitions(1), Retention(ret, 200*time.Millisecond))
	cl := newClient(t, b.Addrs(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics := b.Topics()
	old := time.Now().Add(-2 * time.Minute)
	for i, r := range []*kgo.Record{
		{Topic: topics.Aggregates, Key: []byte("w0"), Value: []byte("9"), Timestamp: old},
		{Topic: topics.Aggregates, Key: []byte("w1"), Value: []byte("1")},
		{Topic: topics.Aggregates, Key: []byte("w1"), Value: []byte("2")},
		{Topic: topics.Aggregates, Key: []byte("w2"), Value: []byte("1")}, // the head is never compacted
	} {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil { // one batch each
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	cfgs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, topics.Aggregates)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, rc := range cfgs {
		for _, c := range rc.Configs {
			if c.Value != nil {
				got[c.Key] = *c.Value
			}
		}
	}
	if got["cleanup.policy"] != "compact,delete" || got["retention.ms"] != "60000" {
		t.Fatalf("aggregates config %v, want cleanup.policy compact,delete and retention.ms 60000", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		agg := readLog(t, b.Addrs(), topics.Aggregates)
		if len(agg) == 2 && agg[0] == "w1=2" && agg[1] == "w2=1" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("aggregates %v, want [w1=2 w2=1] (w0 past the retention, w1 compacted)", agg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
