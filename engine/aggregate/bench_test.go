package aggregate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
)

// BenchmarkPipeline measures the full exactly-once path (consume, decode,
// dedup, aggregate, transactional produce of totals + changelog + offset
// commit) on in-process kfake, beside the raw produce rate of the same
// records to the same broker in the same run. Events: protobuf, 1k keys
// with a Zipf-ish skew, 3 types, 10% with dimensions, 5% duplicates,
// windows 10s and 1m. Run: go test -run '^$' -bench Pipeline -benchtime 1x -count 5
// (COUNTLAB_BENCH_EVENTS sets the events per run, default 300000).
func BenchmarkPipeline(b *testing.B) {
	n := 300_000
	if s := os.Getenv("COUNTLAB_BENCH_EVENTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	const parts = 4
	recs := benchRecords(n, parts)
	b.StopTimer()
	for range b.N {
		e := newEnv(b, parts)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)

		// Raw produce rate of the same records to the same broker.
		for _, r := range recs {
			r.Topic = e.topics.Events
		}
		t0 := time.Now()
		for _, r := range recs {
			e.cl.Produce(ctx, r, nil)
		}
		if err := e.cl.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		raw := float64(n) / time.Since(t0).Seconds()

		w, err := New(Conn(e.conn), Logger(testLogger()), TransactionalID("bench"),
			Windows(10*time.Second, time.Minute), IdleTimeout(time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t1 := time.Now()
		_, stop := e.start(w)
		<-w.Ready()
		e.waitCommittedB(b, ctx)
		el := time.Since(t1)
		b.StopTimer()
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		var windows, bytes int64
		for _, p := range w.parts {
			windows += int64(len(p.windows))
			bytes += p.stateBytes() - p.dedup.bytes()
		}
		rate := float64(n) / el.Seconds()
		b.ReportMetric(rate, "events/s")
		b.ReportMetric(raw, "raw-produce-events/s")
		b.ReportMetric(rate/raw, "ratio")
		if windows > 0 {
			b.ReportMetric(float64(bytes)/float64(windows), "state-bytes/window")
		}
		cancel()
		e.close()
	}
}

func (e *env) waitCommittedB(b *testing.B, ctx context.Context) {
	for {
		ends, err := e.adm.ListEndOffsets(ctx, e.topics.Events)
		if err != nil {
			b.Fatal(err)
		}
		got, err := e.adm.FetchOffsets(ctx, DefaultGroup)
		if err == nil {
			done := true
			for _, m := range ends {
				for p, o := range m {
					c, ok := got.Lookup(e.topics.Events, p)
					if o.Offset > 0 && (!ok || c.At < o.Offset) {
						done = false
					}
				}
			}
			if done {
				return
			}
		}
		if ctx.Err() != nil {
			b.Fatal(ctx.Err())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// benchRecords makes n protobuf event records over parts partitions.
func benchRecords(n int, parts int32) []*kgo.Record {
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.1, 2, 999)
	types := []string{"VIEW", "CLICK", "LIKE"}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("video-%04d", i)
	}
	out := make([]*kgo.Record, 0, n)
	var buf []byte
	for i := range n {
		id := i
		if i > 100 && rng.IntN(20) == 0 {
			id = i - 1 - rng.IntN(100) // a duplicate of a recent event
		}
		r2 := rand.New(rand.NewPCG(uint64(id), 9))
		k := int(zipf.Uint64())
		if id != i {
			k = r2.IntN(1000) // reproducible from the id
		}
		_ = k
		kk := r2.IntN(1000)
		if id == i {
			kk = int(zipf.Uint64())
		}
		e := event.Event{
			ID:    "evt-" + strconv.Itoa(id),
			Key:   keys[kk],
			Type:  types[id%3],
			Value: float64(id%10 + 1),
			TS:    base + int64(id)*60_000*5/int64(n), // 5 minutes of event time
		}
		if id%10 == 0 {
			e.Dims = []event.Dim{{Name: "country", Value: "US"}, {Name: "device", Value: "ios"}}
		}
		buf = event.AppendProto(buf[:0], &e)
		out = append(out, &kgo.Record{Key: []byte(e.Key), Value: append([]byte(nil), buf...), Partition: int32(kk) % parts})
	}
	return out
}
