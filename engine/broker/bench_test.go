package broker

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkBrokerProduce measures produce throughput into the embedded
// broker: one franz-go producer (acks=all, idempotent, no compression),
// 100-byte values, into the 4-partition events topic; in memory, persisted
// (write before acknowledge: durable against kill -9) and persisted with
// SyncWrites (fsync before acknowledge: durable against a machine crash);
// with franz-go's default 1 MiB batches (the producer is never short of
// records, so batches are full) and with 16 KiB batches (per-batch costs,
// such as the fsync, weigh more).
//
//	go test -run '^$' -bench BrokerProduce -benchtime 200000x -count 5 ./engine/broker/
func BenchmarkBrokerProduce(b *testing.B) {
	f := func(name string, persist, sync bool, batchBytes int32) {
		b.Run(name, func(b *testing.B) {
			opts := []Opt{Partitions(4)}
			if persist {
				opts = append(opts, DataDir(b.TempDir()))
			}
			if sync {
				opts = append(opts, SyncWrites())
			}
			br, err := New(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addrs()...), kgo.DefaultProduceTopic(br.Topics().Events),
				kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.NoCompression()),
				kgo.ProducerBatchMaxBytes(batchBytes))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx := context.Background()
			// Warm up: metadata, producer id, connections.
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("warm-up")}).FirstErr(); err != nil {
				b.Fatal(err)
			}

			// 1024 distinct 100-byte values, random letters from a fixed
			// seed: nothing for the batch to gain from repetition.
			rng := rand.New(rand.NewPCG(1, 2))
			values := make([][]byte, 1024)
			for i := range values {
				v := make([]byte, 100)
				for j := range v {
					v[j] = byte('a' + rng.IntN(26))
				}
				values[i] = v
			}
			var failed atomic.Int64
			var firstErr atomic.Value
			done := func(_ *kgo.Record, err error) {
				if err != nil && failed.Add(1) == 1 {
					firstErr.Store(err)
				}
			}
			b.SetBytes(100)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				cl.Produce(ctx, &kgo.Record{Value: values[i%len(values)]}, done)
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d records failed: %v", n, firstErr.Load())
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
		})
	}
	for _, bb := range []struct {
		name  string
		bytes int32
	}{{"batch1m", 1 << 20}, {"batch16k", 16 << 10}} {
		f(bb.name+"/memory", false, false, bb.bytes)
		f(bb.name+"/persist", true, false, bb.bytes)
		f(bb.name+"/persist-sync", true, true, bb.bytes)
	}
}
