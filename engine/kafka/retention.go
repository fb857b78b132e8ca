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

// Retention is how long countlab's topics keep records (Kafka's
// retention.ms, by record timestamp), by topic role. A zero field keeps
// everything (retention.ms -1, the default: Kafka is the raw store that a
// reconcile and `countlab check --from-log` read back). The aggregates
// topic is always compacted (the newest total of every window is kept)
// and, with Aggregates, also time-limited (cleanup.policy compact,delete).
//
// Retention deletes records whether or not a consumer has read them (as
// Kafka does): each bound must exceed the longest the engine may lag
// behind, and a reconcile or a log check reads only what is retained.
type Retention struct {
	// Events is the events topic's retention.
	Events time.Duration
	// Side is the late and dead-letter topics' retention.
	Side time.Duration
	// Changelog is the engine's dedup changelog's retention. Its records
	// are stamped with the partition watermark and a restore reads back
	// about one dedup horizon of them (plus out-of-orderness and the
	// future skew allowed), so it must exceed that plus the engine's lag
	// (Validate asks for at least twice the horizon).
	Changelog time.Duration
	// Aggregates is the aggregates topic's retention on top of its
	// compaction: a window's newest total older than it is deleted. A
	// restore rebuilds the open windows from their newest totals, and the
	// sink writes them from there, so it must exceed the longest a window
	// stays open (its size, the allowed lateness, and the longest a
	// partition may go without events, which holds its watermark back)
	// plus the sink's lag; the scenario asks for at least twice the
	// largest window plus lateness, and 10m.
	Aggregates time.Duration
}

// Any says some topic is time-limited.
func (r Retention) Any() bool {
	return r.Events > 0 || r.Side > 0 || r.Changelog > 0 || r.Aggregates > 0
}

// Validate checks r against the engine's dedup horizon (0: the default
// 10m): no negative bound, none under a minute, and the changelog's at
// least twice the horizon.
func (r Retention) Validate(horizon time.Duration) error {
	if horizon <= 0 {
		horizon = 10 * time.Minute
	}
	for _, f := range r.fields() {
		if f.d < 0 || f.d > 0 && f.d < time.Minute {
			return fmt.Errorf("kafka: %s retention %v: give 0 (keep everything) or at least 1m", f.name, f.d)
		}
	}
	if r.Changelog > 0 && r.Changelog < 2*horizon {
		return fmt.Errorf("kafka: changelog retention %v is under twice the dedup horizon (%v): a restore would miss ids", r.Changelog, 2*horizon)
	}
	return nil
}

type retentionField struct {
	name string
	d    time.Duration
}

func (r Retention) fields() []retentionField {
	return []retentionField{{"events", r.Events}, {"side", r.Side}, {"changelog", r.Changelog}, {"aggregates", r.Aggregates}}
}

// nonNegative is the check of EnsureTopicsRetained: a topic created on
// a cluster may keep its records for any time, but not a negative one.
func (r Retention) nonNegative() error {
	for _, f := range r.fields() {
		if f.d < 0 {
			return fmt.Errorf("kafka: %s retention must be >= 0, got %v", f.name, f.d)
		}
	}
	return nil
}

// retentionMS is d as a retention.ms value (-1: keep everything).
func retentionMS(d time.Duration) *string {
	if d <= 0 {
		return kadm.StringPtr("-1")
	}
	return kadm.StringPtr(strconv.FormatInt(d.Milliseconds(), 10))
}

// TopicConfig is the create-time config of topic name (one of t's, or
// the changelog for any other name).
func (r Retention) TopicConfig(t Topics, name string) map[string]*string {
	switch name {
	case t.Aggregates:
		if r.Aggregates > 0 {
			return map[string]*string{"cleanup.policy": kadm.StringPtr("compact,delete"), "retention.ms": retentionMS(r.Aggregates)}
		}
		return map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	case t.Events:
		return map[string]*string{"retention.ms": retentionMS(r.Events)}
	case t.Late, t.DeadLetter:
		return map[string]*string{"retention.ms": retentionMS(r.Side)}
	}
	return map[string]*string{"retention.ms": retentionMS(r.Changelog)}
}

// EnsureTopicsRetained is EnsureTopics with retention r; a topic that
// already exists gets r's retention.ms set (AlterTopicConfigs), so a
// reused cluster is bounded too.
func EnsureTopicsRetained(ctx context.Context, cl *kgo.Client, t Topics, partitions int32, replication int16, r Retention) error {
	if partitions <= 0 {
		return fmt.Errorf("kafka: partitions must be > 0, got %d", partitions)
	}
	if err := r.nonNegative(); err != nil {
		return err
	}
	adm := kadm.NewClient(cl)
	for _, name := range t.All() {
		cfg := r.TopicConfig(t, name)
		resp, err := adm.CreateTopic(ctx, partitions, replication, cfg, name)
		if err == nil {
			err = resp.Err
		}
		if errors.Is(err, kerr.TopicAlreadyExists) && r.Any() && (name != t.Aggregates || r.Aggregates > 0) {
			err = SetRetention(ctx, adm, name, cfg)
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %s: %w", name, err)
		}
	}
	return nil
}

// SetRetention sets topic's config entries cfg (retention.ms) on a topic
// that exists.
func SetRetention(ctx context.Context, adm *kadm.Client, topic string, cfg map[string]*string) error {
	var alters []kadm.AlterConfig
	for k, v := range cfg {
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: v})
	}
	resps, err := adm.AlterTopicConfigs(ctx, alters, topic)
	if err == nil {
		for _, r := range resps {
			if r.Err != nil {
				err = r.Err
			}
		}
	}
	if err != nil {
		return fmt.Errorf("kafka: set retention of %s: %w", topic, err)
	}
	return nil
}
