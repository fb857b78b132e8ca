package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/countlab/countlab/engine/event"
)

// BenchmarkGateway posts batches of 500 events over HTTP to a gateway in
// front of an in-process kfake cluster (3 brokers, 8 partitions), from
// 4*GOMAXPROCS concurrent clients. One op is one batch. It reports the
// accepted events per second and the request (= Kafka ack) latency
// percentiles from an HDR histogram.
//
//	go test -run=NONE -bench=Gateway -benchtime=400x ./engine/gateway/
func BenchmarkGateway(b *testing.B) {
	const batchSize = 500
	for _, format := range []event.Format{event.FormatJSON, event.FormatProto} {
		b.Run(format.String(), func(b *testing.B) {
			c, topics := newCluster(b)
			_, srv := newServer(b, c, topics, HotKeys(map[string]int{"hot": hotSplit}))
			ct := ContentTypeJSON
			if format == event.FormatProto {
				ct = ContentTypeProtobuf
			}
			// Distinct bodies, so ids differ between batches.
			bodies := make([][]byte, 64)
			for j := range bodies {
				evs := make([]event.Event, batchSize)
				for i := range evs {
					te := goodEvent(fmt.Sprintf("b%d", j), i)
					evs[i] = event.Event{ID: te.id, Key: te.key, Type: te.typ, Value: te.value, TS: te.ts}
					if te.country != "" {
						evs[i].Dims = []event.Dim{{Name: "country", Value: te.country}}
					}
				}
				if format == event.FormatProto {
					bodies[j] = event.AppendProtoBatch(nil, evs)
				} else {
					bodies[j] = event.AppendJSONBatch(nil, evs)
				}
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			// Warm up: topic metadata, producer id, connections.
			for _, body := range bodies[:4] {
				res, err := client.Post(srv.URL+PathEvents, ct, bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			var (
				next     atomic.Int64
				accepted atomic.Int64
				bytesIn  atomic.Int64
			)
			hists := make(chan *hdrhistogram.Histogram, 1024)
			b.SetParallelism(4)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				h := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
				for pb.Next() {
					body := bodies[next.Add(1)%int64(len(bodies))]
					t0 := time.Now()
					res, err := client.Post(srv.URL+PathEvents, ct, bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					h.RecordValue(time.Since(t0).Microseconds())
					if res.StatusCode != http.StatusOK {
						b.Errorf("status %d", res.StatusCode)
						return
					}
					accepted.Add(batchSize)
					bytesIn.Add(int64(len(body)))
				}
				hists <- h
			})
			elapsed := time.Since(start)
			b.StopTimer()
			close(hists)
			all := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
			for h := range hists {
				all.Merge(h)
			}
			ms := func(q float64) float64 { return float64(all.ValueAtQuantile(q)) / 1000 }
			b.ReportMetric(float64(accepted.Load())/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(bytesIn.Load())/elapsed.Seconds()/(1<<20), "MiB/s")
			b.ReportMetric(ms(50), "p50-ms")
			b.ReportMetric(ms(99), "p99-ms")
			b.ReportMetric(float64(all.Max())/1000, "max-ms")
		})
	}
}
