package sink

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultLinger is how long a batch gathers totals after its first poll.
// At 1 s a hot window cost InfluxDB a point a second; at 3 s a third of
// that: in steady-50k (50k events/s over 10,000 Zipf keys) 0.118 -> 0.067
// points per event and influxd 2.3-2.7 -> 1.3-1.4 CPU-µs per event. The store
// is then up to ~3 s behind the aggregates topic; the query service, which
// reads the topic, is not.
const DefaultLinger = 3 * time.Second

// Linger is how long a batch keeps polling after its first records arrive
// (default DefaultLinger; 0 writes every poll on its own), up to MaxPoll
// records. The aggregator rewrites a window's absolute total at every
// commit that touches it; a batch keeps only the newest total of each
// window, so the longer it gathers, the fewer points InfluxDB writes for
// the same totals. Freshness of the query service does not pay for it
// (it reads the aggregates topic, not InfluxDB); InfluxDB's copy is up to
// Linger plus one write behind the topic.
func Linger(d time.Duration) Opt { return opt(func(c *cfg) { c.linger = d }) }

// gather polls for more records after the first poll fs returned records,
// until the linger has passed or MaxPoll records are in, and returns every
// fetch in order. Rebalances stay blocked (BlockRebalanceOnPoll) until the
// caller allows them, so the whole batch is of one assignment.
func (s *Sink) gather(ctx context.Context, cl *kgo.Client, fs kgo.Fetches) (kgo.Fetches, error) {
	if s.cfg.linger <= 0 {
		return fs, nil
	}
	n := fs.NumRecords()
	deadline := time.Now().Add(s.cfg.linger)
	for n < s.cfg.maxPoll {
		lctx, cancel := context.WithDeadline(ctx, deadline)
		more := cl.PollRecords(lctx, s.cfg.maxPoll-n)
		expired := lctx.Err() != nil
		cancel()
		if more.IsClientClosed() {
			return nil, kgo.ErrClientClosed
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, f := range more {
			if keep := dropDeadline(f); len(keep.Topics) > 0 {
				fs = append(fs, keep)
			}
		}
		n = fs.NumRecords()
		if expired {
			break
		}
	}
	return fs, nil
}

// dropDeadline is f without the partitions that carry only the linger's
// own deadline error.
func dropDeadline(f kgo.Fetch) kgo.Fetch {
	var out kgo.Fetch
	for _, t := range f.Topics {
		tt := kgo.FetchTopic{Topic: t.Topic, TopicID: t.TopicID}
		for _, p := range t.Partitions {
			if len(p.Records) == 0 && (errors.Is(p.Err, context.DeadlineExceeded) || errors.Is(p.Err, context.Canceled)) {
				continue
			}
			tt.Partitions = append(tt.Partitions, p)
		}
		if len(tt.Partitions) > 0 {
			out.Topics = append(out.Topics, tt)
		}
	}
	return out
}
