package aggregate

import (
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
)

// moved is the copy of events record r for its canonical partition to:
// the same topic, value, timestamp and headers, the canonical record key
// key (copied), and the header kafka.HeaderMovedFrom = "PARTITION/OFFSET"
// of r (replacing one r already has: a record moved twice, after a
// partition-count change, names its last place). It is produced in the
// transaction that commits r's offset, so exactly one copy is ever
// committed per committed consumption of r. Moves are rare (a producer
// with another partitioner); this path allocates.
func moved(r *kgo.Record, to int32, key []byte) *kgo.Record {
	from := strconv.AppendInt(nil, int64(r.Partition), 10)
	from = append(from, '/')
	from = strconv.AppendInt(from, r.Offset, 10)
	hs := make([]kgo.RecordHeader, 0, len(r.Headers)+1)
	for _, h := range r.Headers {
		if h.Key != kafka.HeaderMovedFrom {
			hs = append(hs, h)
		}
	}
	hs = append(hs, kgo.RecordHeader{Key: kafka.HeaderMovedFrom, Value: from})
	return &kgo.Record{
		Topic:     r.Topic,
		Partition: to,
		Key:       append([]byte(nil), key...),
		Value:     r.Value,
		Headers:   hs,
		Timestamp: r.Timestamp,
	}
}

// deadLetter is the dead-letter record of events record r refused with
// err, in r's partition.
func deadLetter(topic string, r *kgo.Record, err error) *kgo.Record {
	dl := kafka.DeadLetter(topic, r.Key, r.Value, err.Error(), Source, r)
	dl.Partition = r.Partition
	return dl
}

// validate is the engine's validation of a decoded event with reference
// time ref (unix ms, the record timestamp).
func (w *Worker) validate(e *event.Event, ref int64) error {
	_ = ref // TODO(ingest): ValidateAt
	return w.cfg.validator.Validate(e)
}

// futureSkew is the validator's max future skew F (ms): how far an event
// time may be ahead of its record timestamp (restore.go, changelogFrom).
func (w *Worker) futureSkew() int64 {
	return (5 * time.Minute).Milliseconds() // TODO(ingest): the validator's
}
