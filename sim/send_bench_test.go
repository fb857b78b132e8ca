package sim

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkGatewaySend is Gateway.Send of batches of 5,000 protobuf events
// (the stress scenario's batch) to a local server that reads each body
// whole and accepts it: the harness's cost per event to encode and send.
func BenchmarkGatewaySend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"accepted":5000}`))
	}))
	defer srv.Close()
	g := NewGateway(srv.URL, "", Protobuf, 2)
	var items []Item
	for _, it := range genItems(b, testConfig(), 10000, time.Millisecond) {
		if it.Raw == nil && it.RawProto == nil && len(items) < 5000 {
			items = append(items, it)
		}
	}
	out := make([]Outcome, len(items))
	b.ReportAllocs()
	for b.Loop() {
		if err := g.Send(context.Background(), items, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/event")
}
