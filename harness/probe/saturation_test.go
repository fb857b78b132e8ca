package probe

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/countlab/countlab/sim"
)

func TestGatewayCountsSince(t *testing.T) {
	reg := prometheus.NewRegistry()
	req := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "countlab_gateway_requests_total"}, []string{"code"})
	ack := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "countlab_gateway_produce_ack_seconds",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)})
	reg.MustRegister(req, ack)
	prev, ok := scrapeGateway(reg)
	if !ok {
		t.Fatal("scrape")
	}
	f := func(name string, ok200, n429, n503 int, acks []float64, wantThrottled, wantP99 float64) {
		t.Helper()
		req.WithLabelValues("200").Add(float64(ok200))
		req.WithLabelValues("429").Add(float64(n429))
		req.WithLabelValues("503").Add(float64(n503))
		for _, a := range acks {
			ack.Observe(a)
		}
		cur, _ := scrapeGateway(reg)
		th, p99 := cur.since(prev)
		prev = cur
		eq := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) || math.Abs(a-b) < 1e-9 }
		if !eq(th, wantThrottled) || !eq(p99, wantP99) {
			t.Errorf("%s: throttled %v p99 %v ms, want %v, %v", name, th, p99, wantThrottled, wantP99)
		}
	}
	many := func(n int, v float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	f("idle", 0, 0, 0, nil, math.NaN(), math.NaN())
	// 3 ms falls in the (2, 4] ms bucket: rank 99 of 100 is at 99% of it.
	f("fast", 100, 0, 0, many(100, 0.003), 0, 2+2*0.99)
	// The first bucket, (0, 0.5] ms.
	f("throttled", 90, 8, 2, many(90, 0.0002), 0.1, 0.5*0.99)
	// 2 of 100 in (512, 1024] ms: rank 99 is half-way into that bucket.
	f("slow tail", 100, 0, 0, append(many(98, 0.001), 0.6, 0.6), 0, 512+512*0.5)
	f("beyond", 10, 0, 0, many(10, 100), 0, 2*16.384*1000)
}

func TestTracersBy(t *testing.T) {
	f := func(el, te time.Duration, want int64) {
		t.Helper()
		if got := tracersBy(el, te); got != want {
			t.Errorf("tracersBy(%s, %s) = %d, want %d", el, te, got, want)
		}
	}
	f(0, time.Second, 0)
	f(499*time.Millisecond, time.Second, 0)
	f(500*time.Millisecond, time.Second, 1)
	f(10*time.Second, time.Second, 10)
	f(10*time.Second, 0, 0)
}

func TestParseCPUTimes(t *testing.T) {
	a, ok := parseCPUTimes("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n")
	if !ok || a.busy != 150 || a.total != 1000 {
		t.Fatalf("%+v %v", a, ok)
	}
	b, _ := parseCPUTimes("cpu  200 0 100 850 50 0 0 0 0 0\n")
	if got := b.busySince(a); got != 0.75 {
		t.Errorf("busy %v, want 0.75", got)
	}
	if _, ok := parseCPUTimes("intr 1 2 3"); ok {
		t.Error("parsed a non-cpu line")
	}
}

// slowTransport answers every batch after d.
type slowTransport struct{ d time.Duration }

func (s slowTransport) Send(_ context.Context, items []sim.Item, out []sim.Outcome) error {
	time.Sleep(s.d)
	for i := range out[:len(items)] {
		out[i] = sim.Acked
	}
	return nil
}

func TestTimedTransport(t *testing.T) {
	start := time.Now()
	tr := &timedTransport{Transport: slowTransport{50 * time.Millisecond}, conns: 4, h: sim.NewHistogram(), last: start, since: start}
	done := make(chan struct{})
	// Two of four connections busy all the time.
	for range 2 {
		go func() {
			items, out := make([]sim.Item, 1), make([]sim.Outcome, 1)
			for {
				select {
				case <-done:
					return
				default:
				}
				_ = tr.Send(context.Background(), items, out)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	busy, h := tr.take(time.Now())
	close(done)
	if busy < 0.4 || busy > 0.55 {
		t.Errorf("busy share %v, want about 0.5", busy)
	}
	if p99 := float64(h.ValueAtQuantile(99)) / 1000; h.TotalCount() < 10 || p99 < 50 || p99 > 150 {
		t.Errorf("%d round trips, p99 %v ms, want about 50", h.TotalCount(), p99)
	}
}
