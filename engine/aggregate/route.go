package aggregate

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
)

// moved is the copy of events record r for its canonical partition to:
// the same topic, value, timestamp and headers, the canonical record key
// key (copied), and the header kafka.HeaderMovedFrom = "PARTITION/OFFSET"
// of r. It is produced in the
// transaction that commits r's offset, so exactly one copy is ever
// committed per committed consumption of r. Moves are rare (a producer
// with another partitioner); this path allocates.
func moved(r *kgo.Record, to int32, key []byte) *kgo.Record {
	from := strconv.AppendInt(nil, int64(r.Partition), 10)
	from = append(from, '/')
	from = strconv.AppendInt(from, r.Offset, 10)
	hs := make([]kgo.RecordHeader, 0, len(r.Headers)+1)
	hs = append(hs, r.Headers...)
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

// isMoved reports whether r is a copy an engine moved (kafka.HeaderMovedFrom).
// A copy is counted where it is, even if this worker computes another
// canonical partition (a partition count that changed between the
// workers' starts): moving it again could send it back and forth.
func isMoved(r *kgo.Record) bool {
	for i := range r.Headers {
		if r.Headers[i].Key == kafka.HeaderMovedFrom {
			return true
		}
	}
	return false
}

// deadLetter is the dead-letter record of events record r refused with
// err, in r's partition, with the reason text (kafka.HeaderReason) and
// code (event.HeaderReasonCode) in headers.
func deadLetter(topic string, r *kgo.Record, err error) *kgo.Record {
	dl := kafka.DeadLetter(topic, r.Key, r.Value, err.Error(), Source, r)
	dl.Partition = r.Partition
	if code := event.ErrorCode(err); code != "" {
		dl.Headers = append(dl.Headers, kgo.RecordHeader{Key: event.HeaderReasonCode, Value: []byte(code)})
	}
	return dl
}

// validate is the engine's verdict on an event decoded with decodeErr:
// ValidateDecodedAt with the record timestamp ref (unix ms) as the
// reference time. Kafka-direct producers skip the gateway, so the engine
// checks everything; ref is in the log, so the verdict is the same on
// every replay.
func (w *Worker) validate(e *event.Event, ref int64, decodeErr error) error {
	return w.cfg.validator.ValidateDecodedAt(e, ref, decodeErr)
}
