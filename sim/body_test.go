package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// TestPooledBody: a body reads its bytes, nothing after Close, and goes
// back to the pool once however often it is closed.
func TestPooledBody(t *testing.T) {
	var bp bodyPool
	b := bp.body(append(bp.get(8), "abcdef"...))
	p := make([]byte, 4)
	if n, err := b.Read(p); n != 4 || err != nil || string(p) != "abcd" {
		t.Fatalf("read %d %v %q", n, err, p[:n])
	}
	b.Close()
	b.Close()
	if n, err := b.Read(p); n != 0 || !errors.Is(err, errBodyClosed) {
		t.Fatalf("read after close: %d %v", n, err)
	}
	if got := bp.get(4); cap(got) < 8 {
		t.Fatalf("the closed body's bytes were not reused: cap %d", cap(got))
	}
	if got := bp.get(4); cap(got) != 4 {
		t.Fatalf("a second get had a slice again (closed twice, pooled twice?): cap %d", cap(got))
	}
}

// TestGatewayBodiesReused sends batches of varied sizes (pooled slices
// are too small at times) at once over a few connections to a server that
// answers every third request 429 without reading it and reads the others
// whole: every body it reads whole is one batch's own events, intact,
// with its Content-Length, while the bytes of closed bodies are reused.
// (That a body is reused only after the client closes it is the client's
// contract, not something this test can catch in the act.) Worth a run
// with -race.
func TestGatewayBodiesReused(t *testing.T) {
	var reqs, early atomic.Int64
	var bad atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reqs.Add(1)%3 == 0 {
			early.Add(1)
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":"busy"}`))
			return
		}
		raw, err := io.ReadAll(r.Body)
		var evs []struct{ Key, ID string }
		if err == nil {
			err = json.Unmarshal(raw, &evs)
		}
		for i := 1; err == nil && i < len(evs); i++ {
			if evs[i].Key != evs[0].Key {
				err = fmt.Errorf("keys %q and %q in one batch", evs[0].Key, evs[i].Key)
			}
		}
		if err == nil && int64(len(raw)) != r.ContentLength {
			err = fmt.Errorf("%d bytes, Content-Length %d", len(raw), r.ContentLength)
		}
		if err != nil {
			bad.CompareAndSwap(nil, err.Error())
		}
		w.Write([]byte(`{"accepted":` + strconv.Itoa(len(evs)) + `}`))
	}))
	defer srv.Close()
	g := NewGateway(srv.URL, "", JSON, 4)
	var base []Item // the well-formed ones, whose key is set below
	for _, it := range someItems(t, 40000) {
		if it.Raw == nil && it.RawProto == nil && len(base) < 20000 {
			base = append(base, it)
		}
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for j := range 10 {
				n := []int{20000, 50, 9000, 700, 15000}[(w+j)%5]
				items := make([]Item, n)
				copy(items, base[:n])
				key := "batch-" + strconv.Itoa(w) + "-" + strconv.Itoa(j)
				for i := range items {
					items[i].Event.Key = key
				}
				out := make([]Outcome, n)
				if err := g.Send(context.Background(), items, out); err != nil {
					bad.CompareAndSwap(nil, err.Error())
					return
				}
			}
		})
	}
	wg.Wait()
	if v := bad.Load(); v != nil {
		t.Fatal(v)
	}
	if reqs.Load() != 40 || early.Load() == 0 {
		t.Fatalf("%d requests, %d answered early", reqs.Load(), early.Load())
	}
}
