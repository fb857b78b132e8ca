package sink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/total"
)

// HeaderAttempts counts how many times a dead-lettered total was rejected.
const HeaderAttempts = "countlab-attempts"

// stallTimeout bounds a replay's wait for records it knows exist.
const stallTimeout = 15 * time.Second

// source is the dead-letter source header of the sink's records.
const source = "sink"

func (s *Sink) ensureDeadLetterTopic(ctx context.Context, cl *kgo.Client) error {
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, s.cfg.deadLetterPartitions, -1,
		map[string]*string{"retention.ms": kadm.StringPtr("-1")}, s.cfg.deadLetter)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("sink: create topic %s: %w", s.cfg.deadLetter, err)
	}
	return nil
}

// deadLetterRecord is r's dead-letter record: the total (or the raw bytes
// that did not decode), the reason, and the attempt count.
func (s *Sink) deadLetterRecord(r rejected) *kgo.Record {
	key, value := []byte(nil), r.raw
	if value == nil {
		var err error
		key = r.t.RecordKey()
		if value, err = r.t.Marshal(); err != nil && r.rec != nil {
			value = r.rec.Value // not finite: keep the record as it came
		}
	}
	var origin *kgo.Record
	attempts := 1
	if r.rec != nil {
		if key == nil {
			key = r.rec.Key
		}
		if r.rec.Topic == s.cfg.deadLetter {
			attempts, _ = strconv.Atoi(kafka.Header(r.rec, HeaderAttempts))
			attempts++
			if o := kafka.Header(r.rec, kafka.HeaderOrigin); o != "" {
				rec := kafka.DeadLetter(s.cfg.deadLetter, key, value, r.reason, source, nil)
				rec.Headers = append(rec.Headers,
					kgo.RecordHeader{Key: kafka.HeaderOrigin, Value: []byte(o)},
					kgo.RecordHeader{Key: HeaderAttempts, Value: []byte(strconv.Itoa(attempts))})
				return rec
			}
		} else {
			origin = r.rec
		}
	}
	rec := kafka.DeadLetter(s.cfg.deadLetter, key, value, r.reason, source, origin)
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: HeaderAttempts, Value: []byte(strconv.Itoa(attempts))})
	return rec
}

// deadLetter produces rejected totals to the dead-letter topic, retrying
// until Kafka acknowledged them (or ctx is done): the offsets of their
// source records are committed only after that.
func (s *Sink) deadLetter(ctx context.Context, cl *kgo.Client, rej []rejected) error {
	recs := make([]*kgo.Record, len(rej))
	for i, r := range rej {
		recs[i] = s.deadLetterRecord(r)
		s.log.Warn("total rejected by InfluxDB; dead-lettered", "key", string(recs[i].Key), "reason", r.reason)
	}
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.writeTimeout)
		err := cl.ProduceSync(cctx, recs...).FirstErr()
		cancel()
		if err == nil {
			s.stats.deadLettered.Add(int64(len(recs)))
			s.m.deadLettered.Add(float64(len(recs)))
			s.m.deadLetterSize.Add(float64(len(recs)))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn("dead-letter produce failed; retrying", "err", err)
		if !sleep(ctx, backoff(attempt, s.cfg.backoffBase, s.cfg.backoffMax)) {
			return ctx.Err()
		}
	}
}

// ReplayResult says what a dead-letter replay did.
type ReplayResult struct {
	Read     int `json:"read"`     // dead-lettered records read
	Written  int `json:"written"`  // totals now in InfluxDB
	Rejected int `json:"rejected"` // rejected again: dead-lettered anew (nothing dropped)
}

// ReplayDeadLetter writes the totals waiting in the sink dead-letter topic
// to InfluxDB: every record up to the topic's end when the replay starts.
// Progress is the committed offset of consumer group "<group>-dead-letter",
// committed only after InfluxDB acknowledged (or the record was
// dead-lettered anew, with its attempt count, because InfluxDB rejected it
// again). A transient InfluxDB failure stops the replay with an error and
// leaves the rest for the next one.
func (s *Sink) ReplayDeadLetter(ctx context.Context) (ReplayResult, error) {
	s.replayMu.Lock()
	defer s.replayMu.Unlock()
	var res ReplayResult
	base, err := s.kgoOpts()
	if err != nil {
		return res, fmt.Errorf("sink: %w", err)
	}
	group := s.cfg.group + "-dead-letter"
	adm, err := kgo.NewClient(base...)
	if err != nil {
		return res, fmt.Errorf("sink: kafka client: %w", err)
	}
	pending, size, err := s.pendingDeadLetters(ctx, adm, group)
	adm.Close()
	if err != nil {
		return res, err
	}
	s.m.deadLetterSize.Set(float64(size))
	if len(pending) == 0 {
		return res, nil
	}
	cl, err := kgo.NewClient(append(base,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(s.cfg.deadLetter),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)...)
	if err != nil {
		return res, fmt.Errorf("sink: kafka client: %w", err)
	}
	defer cl.Close()
	for len(pending) > 0 {
		pctx, cancel := context.WithTimeout(ctx, stallTimeout)
		fs := cl.PollRecords(pctx, s.cfg.maxPoll)
		cancel()
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if fs.NumRecords() == 0 && pctx.Err() != nil {
			return res, fmt.Errorf("sink: replay: no dead-letter records for %s (%d partitions unfinished)", stallTimeout, len(pending))
		}
		var items []item
		var bad []rejected
		var done []*kgo.Record
		for _, r := range fs.Records() {
			end, ok := pending[r.Partition]
			if !ok || r.Offset >= end {
				continue
			}
			if r.Offset >= end-1 {
				delete(pending, r.Partition)
			}
			done = append(done, r)
			t, err := total.Unmarshal(r.Value)
			if err != nil {
				bad = append(bad, rejected{item{rec: r, raw: r.Value}, err.Error()})
				continue
			}
			items = append(items, item{t: t, rec: r})
		}
		if len(done) == 0 {
			continue
		}
		s.seen.forget.Store(true) // old totals may overwrite newer points (unchanged.go)
		rej, err := s.writeAll(ctx, items)
		s.seen.forget.Store(true)
		if err != nil {
			return res, fmt.Errorf("sink: replay: %w", err)
		}
		rej = append(rej, bad...)
		if len(rej) > 0 {
			if err := s.deadLetter(ctx, cl, rej); err != nil {
				return res, err
			}
		}
		if err := cl.CommitRecords(ctx, done...); err != nil {
			return res, fmt.Errorf("sink: replay commit: %w", err)
		}
		res.Read += len(done)
		res.Rejected += len(rej)
		res.Written += len(items) - (len(rej) - len(bad))
		s.stats.replayed.Add(int64(len(items) - (len(rej) - len(bad))))
		s.m.replayed.Add(float64(len(items) - (len(rej) - len(bad))))
		s.m.deadLetterSize.Sub(float64(len(done)))
	}
	return res, nil
}

// pendingDeadLetters is, per partition of the dead-letter topic with
// records not yet replayed, its end offset now; and how many records wait.
func (s *Sink) pendingDeadLetters(ctx context.Context, cl *kgo.Client, group string) (map[int32]int64, int64, error) {
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, s.cfg.deadLetter)
	if err != nil {
		return nil, 0, fmt.Errorf("sink: dead-letter end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return nil, 0, fmt.Errorf("sink: dead-letter end offsets: %w", err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return nil, 0, fmt.Errorf("sink: dead-letter committed offsets: %w", err)
	}
	pending := make(map[int32]int64)
	var size int64
	ends.Each(func(o kadm.ListedOffset) {
		from := int64(0) // nothing committed yet: from the start
		if c, ok := committed.Lookup(o.Topic, o.Partition); ok && c.At > 0 {
			from = c.At
		}
		if o.Offset > from {
			pending[o.Partition] = o.Offset
			size += o.Offset - from
		}
	})
	return pending, size, nil
}
