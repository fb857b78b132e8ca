package stack

// The stack's dead-lettered events by reason: the parts count what they
// refuse without a reason label, so the stack reads the dead-letter topic
// itself (read-committed: an aborted engine transaction's dead letters are
// not counted) and counts every record by the part that refused it
// (countlab-source) and the ingest contract's reason code
// (countlab-reason-code; "unknown" when a record has none).

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
)

// countDeadLetters counts the dead-letter records of this stack's lifetime
// into countlab_dead_letter_events_total{source,reason} on reg until ctx
// ends.
func (s *Stack) countDeadLetters(ctx context.Context, reg prometheus.Registerer) error {
	byReason := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "countlab_dead_letter_events_total",
		Help: "Events in the dead-letter topic (committed), by the part that refused them (gateway, engine) and the ingest contract's reason code.",
	}, []string{"source", "reason"})
	if err := reg.Register(byReason); err != nil {
		return err
	}
	cl, err := s.conn.NewClient(
		kgo.ConsumeTopics(s.topics.DeadLetter),
		// This stack's dead letters only: a shared cluster's or a kept
		// --data-dir's earlier ones are not read (the gateway started
		// serving a moment ago; nothing of ours is older than that).
		kgo.ConsumeResetOffset(kgo.NewOffset().AfterMilli(time.Now().Add(-5*time.Second).UnixMilli())),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		return err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cl.Close()
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				src, reason := kafka.Header(r, kafka.HeaderSource), kafka.Header(r, event.HeaderReasonCode)
				if src == "" {
					src = "unknown"
				}
				if reason == "" {
					reason = "unknown"
				}
				byReason.WithLabelValues(src, reason).Inc()
			})
		}
	}()
	return nil
}
