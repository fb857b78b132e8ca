package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/countlab/countlab/engine/event"
)

// BenchmarkThrottled posts protobuf batches of 5,000 events (the stress
// scenario's) to a gateway whose in-flight limit is taken, so that every
// one is answered 429: the cost of refusing a batch under overload, which
// its client sends again. One op is one batch.
//
//	go test -run '^$' -bench BenchmarkThrottled -benchtime 300x ./engine/gateway/
func BenchmarkThrottled(b *testing.B) {
	const batchSize = 5000
	c, topics := newCluster(b)
	g, srv := newServer(b, c, topics, MaxBatch(batchSize), MaxInFlight(batchSize))
	evs := make([]event.Event, batchSize)
	for i := range evs {
		te := goodEvent("t", i)
		evs[i] = event.Event{ID: te.id, Key: te.key, Type: te.typ, Value: te.value, TS: te.ts, TSNumber: true}
	}
	body := event.AppendProtoBatch(nil, evs)
	if !g.adm.acquire(batchSize) {
		b.Fatal("the in-flight limit is not free")
	}
	defer g.adm.release(batchSize)
	client := &http.Client{}
	b.ResetTimer()
	for b.Loop() {
		res, err := client.Post(srv.URL+PathEvents, ContentTypeProtobuf, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusTooManyRequests {
			b.Fatal(fmt.Sprintf("status %d, want 429", res.StatusCode))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/event")
}
