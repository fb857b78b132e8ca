package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topics are the names of countlab's topics. A run prefix (for staging runs
// against a shared cluster) is prepended to every name.
type Topics struct {
	// Events holds raw events, keyed by counted key (JSON or protobuf values).
	Events string
	// Aggregates holds absolute window totals, compacted, written in
	// transactions by the engine.
	Aggregates string
	// Late holds events that arrived after their window's allowed lateness;
	// reconciliation counts them.
	Late string
	// DeadLetter holds malformed events with the reason in a header.
	DeadLetter string
}

// DefaultTopics are the topic names with prefix prepended ("" for none).
func DefaultTopics(prefix string) Topics {
	return Topics{
		Events:     prefix + "events",
		Aggregates: prefix + "aggregates",
		Late:       prefix + "late",
		DeadLetter: prefix + "dead-letter",
	}
}

// All lists every topic name.
func (t Topics) All() []string { return []string{t.Events, t.Aggregates, t.Late, t.DeadLetter} }

// EnsureTopics creates any missing topic with the given partition count and
// replication factor (-1: the broker's default). Aggregates is compacted so
// only the newest total of each window is kept; the others keep everything
// (retention -1: Kafka is the raw store reconciliation reads), except the
// events topic with EventsRetention. A topic that already exists is left as
// it is.
func EnsureTopics(ctx context.Context, cl *kgo.Client, t Topics, partitions int32, replication int16, opts ...TopicOpt) error {
	if partitions <= 0 {
		return fmt.Errorf("kafka: partitions must be > 0, got %d", partitions)
	}
	var tc topicCfg
	for _, o := range opts {
		o(&tc)
	}
	if tc.eventsRetention < 0 {
		return fmt.Errorf("kafka: events retention must be >= 0, got %v", tc.eventsRetention)
	}
	adm := kadm.NewClient(cl)
	keepAll := map[string]*string{"retention.ms": kadm.StringPtr("-1")}
	compacted := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	for _, name := range t.All() {
		cfg := keepAll
		switch {
		case name == t.Aggregates:
			cfg = compacted
		case name == t.Events && tc.eventsRetention > 0:
			cfg = map[string]*string{"retention.ms": kadm.StringPtr(strconv.FormatInt(tc.eventsRetention.Milliseconds(), 10))}
		}
		resp, err := adm.CreateTopic(ctx, partitions, replication, cfg, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %s: %w", name, err)
		}
	}
	return nil
}

// TopicOpt configures EnsureTopics.
type TopicOpt func(*topicCfg)

type topicCfg struct{ eventsRetention time.Duration }

// EventsRetention creates the events topic with retention.ms = d (the
// retention config's events, engine/rollup) instead of keeping every
// record; 0 keeps them forever. Kafka then deletes log segments whose
// newest record is older than d; reconcile recounts only the windows whose
// events are all still there.
func EventsRetention(d time.Duration) TopicOpt { return func(c *topicCfg) { c.eventsRetention = d } }

// Dead-letter record headers.
const (
	// HeaderReason says why the event was not counted.
	HeaderReason = "countlab-reason"
	// HeaderSource names the part that rejected it (gateway, engine).
	HeaderSource = "countlab-source"
	// HeaderOrigin is topic/partition@offset of the original record, when
	// it came from Kafka.
	HeaderOrigin = "countlab-origin"
)

// DeadLetter builds the dead-letter record for a malformed event: the
// original key and bytes, unchanged, with the reason and source in headers.
// origin is the original record (nil when the event never reached Kafka).
func DeadLetter(topic string, key, value []byte, reason, source string, origin *kgo.Record) *kgo.Record {
	r := &kgo.Record{
		Topic: topic,
		Key:   key,
		Value: value,
		Headers: []kgo.RecordHeader{
			{Key: HeaderReason, Value: []byte(reason)},
			{Key: HeaderSource, Value: []byte(source)},
		},
	}
	if origin != nil {
		o := origin.Topic + "/" + strconv.Itoa(int(origin.Partition)) + "@" + strconv.FormatInt(origin.Offset, 10)
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderOrigin, Value: []byte(o)})
	}
	return r
}

// Header returns the value of the named header of r, or "".
func Header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
