package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/kafka"
)

// TestEventsRetention creates the topics on kfake with an events retention
// (and refuses a negative one) and reads the topic configs back: events has retention.ms, the other
// raw topics keep everything, aggregates is compacted.
func TestEventsRetention(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tp := kafka.DefaultTopics("r-")
	if err := kafka.EnsureTopicsRetained(ctx, cl, tp, 2, -1, kafka.Retention{Events: 90 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := kafka.EnsureTopicsRetained(ctx, cl, tp, 2, -1, kafka.Retention{Events: -time.Second}); err == nil {
		t.Fatal("a negative events retention: no error")
	}
	rcs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, tp.All()...)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{tp.Events: {"retention.ms", "5400000"}, tp.Late: {"retention.ms", "-1"}, tp.Aggregates: {"cleanup.policy", "compact"}}
	for _, rc := range rcs {
		w, ok := want[rc.Name]
		if !ok {
			continue
		}
		got := ""
		for _, c := range rc.Configs {
			if c.Key == w[0] && c.Value != nil {
				got = *c.Value
			}
		}
		if got != w[1] {
			t.Errorf("%s %s = %q, want %q", rc.Name, w[0], got, w[1])
		}
	}
}
