package aggregate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/enrich"
)

// BenchmarkPipelineEnrich is BenchmarkPipeline's steady state without
// and with the attribute roll-up (a real enrich.Follower over a bbolt
// store holding the 1000 keys' channels): CPU per event of the whole
// process (broker and follower included), so the difference is the cost
// of enrichment. COUNTLAB_BENCH_EVENTS sets the events (default 100000).
func BenchmarkPipelineEnrich(b *testing.B) {
	n := 100_000
	if s := os.Getenv("COUNTLAB_BENCH_EVENTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for _, enriched := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "enriched"}[enriched], func(b *testing.B) {
			const parts = 4
			recs := benchRecords(n, parts)
			b.StopTimer()
			for range b.N {
				e := newEnv(b, parts)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				for _, r := range recs {
					r.Topic = e.topics.Events
				}
				if err := e.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					b.Fatal(err)
				}
				opts := []Opt{Conn(e.conn), Logger(testLogger()), TransactionalID("bench"), Windows(10*time.Second, time.Minute), IdleTimeout(time.Hour)}
				ce := &countingEnricher{}
				if enriched {
					ce.Enricher = benchFollower(b, ctx, e)
					opts = append(opts, Enrich(ce, enrich.DefaultTotalsTopic, "channel"))
				}
				w, err := New(opts...)
				if err != nil {
					b.Fatal(err)
				}
				_, stop := e.start(w)
				<-w.Ready()
				b.StartTimer()
				c1 := cpuTime()
				e.waitCommittedB(b, ctx)
				cpu := (cpuTime() - c1).Seconds() * 1e6 / float64(n)
				b.StopTimer()
				if err := stop(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(cpu, "cpu-µs/event")
				b.ReportMetric(float64(ce.lookups.Load())/float64(n), "lookups/event")
				cancel()
				e.close()
			}
		})
	}
}

// countingEnricher counts the lookups.
type countingEnricher struct {
	Enricher
	lookups atomic.Int64
}

func (c *countingEnricher) Spans(entity string, from, to int64, names []string) ([]enrich.Span, error) {
	c.lookups.Add(1)
	return c.Enricher.Spans(entity, from, to, names)
}

func benchFollower(b *testing.B, ctx context.Context, e *env) *enrich.Follower {
	if err := enrich.EnsureTopics(ctx, e.cl, enrich.DefaultTopic, enrich.DefaultTotalsTopic, 1, e.parts); err != nil {
		b.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range 1000 {
		r := enrich.Record{Entity: fmt.Sprintf("video-%04d", i), TS: 1, Attrs: []enrich.Attr{{Name: "channel", Value: "ch" + strconv.Itoa(i%50)}}}
		v, _ := r.MarshalJSON()
		recs = append(recs, &kgo.Record{Topic: enrich.DefaultTopic, Partition: 0, Key: r.RecordKey(), Value: v})
	}
	if err := e.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	fol, err := enrich.NewFollower(enrich.FollowConn(e.conn), enrich.StorePath(filepath.Join(b.TempDir(), "m.db")), enrich.FollowLogger(testLogger()))
	if err != nil {
		b.Fatal(err)
	}
	go fol.Run(ctx)
	b.Cleanup(func() { fol.Close() })
	if err := fol.CatchUp(ctx); err != nil {
		b.Fatal(err)
	}
	return fol
}
