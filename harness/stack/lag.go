package stack

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/sink"
)

// LagReader reads the engine's and the sink's consumer lag and the end
// offsets of their input topics through one Kafka admin client: the one
// lag reader of a run, shared by the probes (series, saturation, monitor)
// and the faults' recovery probe. Reads within MaxAge of the previous one
// return it again, so that the samplers of one tick ask Kafka once. It is
// safe for concurrent use.
type LagReader struct {
	cl                 *kgo.Client
	adm                *kadm.Client
	events, aggregates string

	mu   sync.Mutex
	last Lags
	err  error
	// MaxAge is how old a cached read may be (default 500ms).
	MaxAge time.Duration
}

// Lags are one read of the consumer lag.
type Lags struct {
	// At is when it was read.
	At time.Time
	// Engine and Sink are the groups' lags in records, summed over the
	// partitions of the events and the aggregates topic.
	Engine, Sink int64
	// EventsEnd and AggregatesEnd are the topics' summed end offsets.
	EventsEnd, AggregatesEnd int64
	// Partitions are the engine's lag and the end offset per partition of
	// the events topic.
	Partitions map[int32]PartitionLag
}

// PartitionLag is one partition's engine lag and end offset.
type PartitionLag struct{ Lag, End int64 }

// NewLagReader is a reader of the lag on conn's cluster of the groups of
// countlab's engine and sink on topics. Close it.
func NewLagReader(conn kafka.Conn, topics kafka.Topics) (*LagReader, error) {
	cl, err := conn.NewClient()
	if err != nil {
		return nil, err
	}
	return &LagReader{cl: cl, adm: kadm.NewClient(cl), events: topics.Events, aggregates: topics.Aggregates, MaxAge: 500 * time.Millisecond}, nil
}

// Close closes the client (nil-safe).
func (l *LagReader) Close() {
	if l != nil {
		l.cl.Close()
	}
}

// Read is the current lag: a read at most MaxAge old, or a new one.
func (l *LagReader) Read(ctx context.Context) (Lags, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.At.IsZero() && time.Since(l.last.At) < l.MaxAge {
		return l.last, l.err
	}
	g, err := l.read(ctx)
	if err != nil {
		return Lags{}, err
	}
	l.last, l.err = g, nil
	return g, nil
}

func (l *LagReader) read(ctx context.Context) (Lags, error) {
	ls, err := l.adm.Lag(ctx, aggregate.DefaultGroup, sink.DefaultGroup)
	if err != nil {
		return Lags{}, err
	}
	if err := ls.Error(); err != nil {
		return Lags{}, err
	}
	g := Lags{At: time.Now(), Partitions: map[int32]PartitionLag{}}
	sum := func(group, topic string) (lag, end int64) {
		for _, m := range ls[group].Lag[topic] {
			if m.Err == nil && m.Lag >= 0 {
				lag += m.Lag
			}
			if m.End.Err == nil {
				end += m.End.Offset
			}
		}
		return lag, end
	}
	g.Engine, g.EventsEnd = sum(aggregate.DefaultGroup, l.events)
	g.Sink, g.AggregatesEnd = sum(sink.DefaultGroup, l.aggregates)
	for p, m := range ls[aggregate.DefaultGroup].Lag[l.events] {
		if m.Err == nil && m.Lag >= 0 {
			g.Partitions[p] = PartitionLag{Lag: m.Lag, End: m.End.Offset}
		}
	}
	return g, nil
}

// Recovered reports whether the engine's and the sink's lag are both at
// most bound records (a fresh read): the faults' recovery probe.
func (l *LagReader) Recovered(ctx context.Context, bound int64) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	l.mu.Lock()
	g, err := l.read(ctx)
	if err == nil {
		l.last = g
	}
	l.mu.Unlock()
	return err == nil && g.Engine <= bound && g.Sink <= bound
}
