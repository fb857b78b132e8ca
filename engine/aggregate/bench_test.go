package aggregate

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
)

// BenchmarkPipeline measures the full exactly-once path (consume, decode,
// dedup, aggregate, transactional produce of totals + changelog + offset
// commit) on in-process kfake, beside the raw produce rate of the same
// records to the same broker in the same run, taken before the pipeline and
// again after it (ratio = pipeline rate / the raw rate over both;
// raw-after/before shows how far the host's speed moved meanwhile). Events: protobuf, 1k keys
// with a Zipf-ish skew, 3 types, 10% with dimensions, 5% duplicates,
// windows 10s and 1m. Run: go test -run '^$' -bench Pipeline -benchtime 1x -count 5
// (COUNTLAB_BENCH_EVENTS sets the events per run, default 300000;
// COUNTLAB_BENCH_PHASES=gen stops after making the records and the broker,
// =raw after the raw produce, so instruction counts of the phases can be
// told apart; COUNTLAB_BENCH_CPUPROFILE=FILE profiles the pipeline phase;
// COUNTLAB_BENCH_MAX_COMMIT_INTERVAL=250ms turns the commit pacing off).
func BenchmarkPipeline(b *testing.B) {
	n := 300_000
	if s := os.Getenv("COUNTLAB_BENCH_EVENTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	benchPipeline(b, n)
}

// TestBenchPipelineShort is make bench-ratio's short form inside make test:
// one BenchmarkPipeline run of 20,000 events, which must report every
// figure the target prints (no timing is checked).
func TestBenchPipelineShort(t *testing.T) {
	if testing.Short() {
		t.Skip("a benchmark run")
	}
	bt := flag.Lookup("test.benchtime")
	old := bt.Value.String()
	if err := bt.Value.Set("1x"); err != nil {
		t.Fatal(err)
	}
	defer bt.Value.Set(old)
	r := testing.Benchmark(func(b *testing.B) { benchPipeline(b, 20_000) })
	if r.N != 1 {
		t.Fatalf("the benchmark failed or ran %d times", r.N)
	}
	for _, m := range []string{"events/s", "raw-produce-events/s", "ratio", "raw-after/before", "cpu-µs/event", "raw-cpu-µs/event", "totals/event", "commits"} {
		if v, ok := r.Extra[m]; !ok || v <= 0 {
			t.Errorf("%s = %v (reported %v)", m, v, ok)
		}
	}
}

// benchPipeline is BenchmarkPipeline over n events.
func benchPipeline(b *testing.B, n int) {
	const parts = 4
	recs := benchRecords(n, parts)
	b.StopTimer()
	phases := os.Getenv("COUNTLAB_BENCH_PHASES") // for instruction counts, see the Makefile's bench-instructions
	for range b.N {
		e := newEnv(b, parts)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if phases == "gen" {
			cancel()
			e.close()
			continue
		}

		// Raw produce of the same records to the same broker: before the
		// pipeline (the records it consumes) and again after it.
		rawBefore, rawCPUBefore := rawProduce(b, ctx, e, recs, e.topics.Events)
		if phases == "raw" {
			cancel()
			e.close()
			continue
		}

		opts := []Opt{Conn(e.conn), Logger(testLogger()), TransactionalID("bench"),
			Windows(10*time.Second, time.Minute), IdleTimeout(time.Hour)}
		if d, err := time.ParseDuration(os.Getenv("COUNTLAB_BENCH_MAX_COMMIT_INTERVAL")); err == nil {
			opts = append(opts, MaxCommitInterval(d)) // the commit interval: the pacing off
		}
		w, err := New(opts...)
		if err != nil {
			b.Fatal(err)
		}
		_, stop := e.start(w)
		<-w.Ready() // joined and restored: time the steady state
		stopProf := benchProfile(b)
		b.StartTimer()
		t1, c1 := time.Now(), cpuTime()
		e.waitCommittedB(b, ctx)
		el := time.Since(t1)
		pipeCPU := (cpuTime() - c1).Seconds() * 1e6 / float64(n)
		b.StopTimer()
		stopProf()
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		// The host's speed drifts by tens of percent within a minute on a
		// shared machine: the raw rate taken on both sides of the pipeline
		// (to a topic of its own, the worker stopped) makes the ratio's
		// denominator the same mix of fast and slow moments as its numerator.
		if _, err := e.adm.CreateTopic(ctx, e.parts, 1, nil, benchRawTopic); err != nil {
			b.Fatal(err)
		}
		rawAfter, rawCPUAfter := rawProduce(b, ctx, e, recs, benchRawTopic)
		raw := 2 / (1/rawBefore + 1/rawAfter) // 2n records over both phases' time
		rawCPU := (rawCPUBefore + rawCPUAfter) / 2
		var windows, bytes int64
		for _, p := range w.parts {
			windows += int64(len(p.windows))
			bytes += p.stateBytes() - p.dedup.bytes()
		}
		if os.Getenv("COUNTLAB_BENCH_DEBUG") != "" {
			mfs, _ := w.Gatherer().Gather()
			for _, mf := range mfs {
				for _, m := range mf.GetMetric() {
					if h := m.GetHistogram(); h != nil {
						b.Logf("%s count=%d sum=%.3fs", mf.GetName(), h.GetSampleCount(), h.GetSampleSum())
					} else if c := m.GetCounter(); c != nil {
						b.Logf("%s %v", mf.GetName(), c.GetValue())
					}
				}
			}
		}
		rate := float64(n) / el.Seconds()
		b.ReportMetric(rate, "events/s")
		b.ReportMetric(raw, "raw-produce-events/s")
		b.ReportMetric(rate/raw, "ratio")
		b.ReportMetric(rawAfter/rawBefore, "raw-after/before")
		b.ReportMetric(pipeCPU, "cpu-µs/event")
		b.ReportMetric(rawCPU, "raw-cpu-µs/event")
		if windows > 0 {
			b.ReportMetric(float64(bytes)/float64(windows), "state-bytes/window")
		}
		b.ReportMetric(counterValue(w.m.totals)/float64(n), "totals/event")
		b.ReportMetric(counterValue(w.m.commits), "commits")
		cancel()
		e.close()
	}
}

// benchRawTopic receives the raw produce after the pipeline.
const benchRawTopic = "bench-raw-after"

// rawProduce produces recs to topic (their partitions kept) and returns the
// rate in records/s and the process's CPU-µs per record.
func rawProduce(b *testing.B, ctx context.Context, e *env, recs []*kgo.Record, topic string) (rate, cpuPerRecord float64) {
	for _, r := range recs {
		r.Topic = topic
	}
	t0, c0 := time.Now(), cpuTime()
	for _, r := range recs {
		e.cl.Produce(ctx, r, nil)
	}
	if err := e.cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	n := float64(len(recs))
	return n / time.Since(t0).Seconds(), (cpuTime() - c0).Seconds() * 1e6 / n
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
		out = append(out, &kgo.Record{Key: []byte(e.Key), Value: append([]byte(nil), buf...),
			Partition: kafka.Partition([]byte(e.Key), parts), Timestamp: time.UnixMilli(e.TS)})
	}
	return out
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// benchProfile starts a CPU profile of the pipeline phase alone (not the
// record generation nor the raw produce) when COUNTLAB_BENCH_CPUPROFILE
// names a file; the returned func stops it.
func benchProfile(b *testing.B) func() {
	path := os.Getenv("COUNTLAB_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// cpuTime is the process's user+system CPU time (broker included: kfake
// runs in-process), so the figures hold on a shared, loaded machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
