package kafka

import (
	"context"
	"strconv"

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
// (retention -1: Kafka is the raw store reconciliation reads). A topic that
// already exists is left as it is. It is EnsureTopicsRetained with no
// Retention; a time-limited events topic is Retention.Events.
func EnsureTopics(ctx context.Context, cl *kgo.Client, t Topics, partitions int32, replication int16) error {
	return EnsureTopicsRetained(ctx, cl, t, partitions, replication, Retention{})
}

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
