package broker

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/countlab/countlab/engine/kafka"
)

// Bounded memory for long runs.
//
// kfake enforces retention.ms (by batch max timestamp), retention.bytes
// and log compaction (cleanup.policy=compact: the newest record of every
// key kept) itself, on a timer of the broker config
// log.cleaner.backoff.ms (an hour by default), and trims the log start
// (what DeleteRecords does) in memory and in its data dir. With
// Retention the broker sets the seeded topics' retention.ms at creation,
// sets it on every other topic once it appears (the engine workers create
// their dedup changelog themselves, with retention -1), and runs the
// cleaner every CleanerInterval, so the aggregates topic is compacted and
// the others trimmed while the run goes on, in segments of
// RetainedSegmentBytes.

// DefaultCleanerInterval is how often kfake applies retention and
// compaction under Retention.
const DefaultCleanerInterval = 30 * time.Second

// RetainedSegmentBytes is the log segment size under Retention (the
// broker's log.segment.bytes). kfake frees a partition's log a whole
// segment at a time, once every batch in it is past the log start, and
// rolls a segment only by size: at its default of 100 MiB a partition
// taking 45 KB/s (the dedup changelog of a 20k events/s run over 8
// partitions) fills a segment in 39 minutes, so a 20-minute retention
// held up to an hour of it, 8 partitions over (measured: soak-long's
// heap past its 1 GiB bound after an hour, the collector then taking
// both cores). At 4 MiB a partition holds at most one segment beyond its
// retention.
const RetainedSegmentBytes = 4 << 20

// Retention bounds the topics' logs (see kafka.Retention; zero fields
// keep everything) and runs kfake's cleaner every interval (0:
// DefaultCleanerInterval).
func Retention(r kafka.Retention, interval time.Duration) Opt {
	return opt{func(c *cfg) {
		c.retention = r
		c.cleanerEvery = interval
		if c.cleanerEvery <= 0 {
			c.cleanerEvery = DefaultCleanerInterval
		}
	}}
}

// cleanerOpts are the kfake options Retention needs.
func (c *cfg) cleanerOpts() []kfake.Opt {
	if !c.retention.Any() {
		return nil
	}
	ms := strconv.FormatInt(c.cleanerEvery.Milliseconds(), 10)
	return []kfake.Opt{kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": ms,
		"log.segment.bytes": strconv.Itoa(RetainedSegmentBytes)})}
}

// watchTopics sets the changelog retention on every topic that is not one
// of the seeded ones, as it appears, until ctx ends.
func (b *Broker) watchTopics(ctx context.Context) {
	r, t := b.cfg.retention, b.cfg.topics
	if r.Changelog <= 0 {
		return
	}
	cl, err := b.Conn().NewClient() // with the SASL login when SASL is on
	if err != nil {
		b.cfg.logger.Warn("broker: retention watcher", "err", err)
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	seeded := map[string]bool{}
	for _, n := range t.All() {
		seeded[n] = true
	}
	done := map[string]bool{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if tds, err := adm.ListTopics(ctx); err == nil {
			for name := range tds {
				if seeded[name] || done[name] {
					continue
				}
				if err := kafka.SetRetention(ctx, adm, name, r.TopicConfig(t, name)); err != nil {
					b.cfg.logger.Warn("broker: set retention", "topic", name, "err", err)
					continue
				}
				done[name] = true
				b.cfg.logger.Info("broker: retention set", "topic", name, "retention", r.Changelog)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
