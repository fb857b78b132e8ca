package query

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/total"
)

// BenchmarkMixWithWriter is the handler cost of the benchmark's mix (70%
// counts, 20% stats, 10% top-10 over 5 minutes; 10,000 keys) while a
// writer applies 1,800 totals to the current window every 100 ms, as the
// consumer does behind the aggregator; it reports the p50/p99/max time of
// one request in the handler (no network).
func BenchmarkMixWithWriter(b *testing.B) {
	const keys = 10_000
	s, now := benchServer(b, keys, 6)
	from := strconv.FormatInt(now-5*60_000, 10)
	var urls []string
	for i := range 1000 {
		k := "key" + strconv.Itoa((i*7919)%keys)
		switch i % 10 {
		case 0:
			urls = append(urls, "/v1/top?type=VIEW&n=10&from="+from)
		case 1, 2:
			urls = append(urls, "/v1/stats/"+k+"?type=VIEW&fn=avg&from="+from)
		default:
			urls = append(urls, "/v1/counts/"+k+"?type=VIEW&from="+from)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(1, 2))
		cur := total.WindowStart(time.Now().UnixMilli(), 60_000)
		counts := make([]int64, keys)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			ts := make([]total.Total, 1800)
			for i := range ts {
				k := rng.IntN(keys)
				counts[k] += int64(1 + rng.IntN(5))
				ts[i] = total.Total{Key: "key" + strconv.Itoa(k), Type: "VIEW", DimSet: []string{"", "country=US", "country=DE,device=ios"}[k%3],
					Start: cur, Size: 60_000, Count: counts[k], Sum: float64(counts[k]), Min: 1, Max: 1}
			}
			s.st.apply(ts, s.floor)
		}
	}()
	var mu sync.Mutex
	var all []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var lat []time.Duration
		i := 0
		for pb.Next() {
			r := httptest.NewRequest(http.MethodGet, urls[i%len(urls)], nil)
			w := httptest.NewRecorder()
			t0 := time.Now()
			s.ServeHTTP(w, r)
			lat = append(lat, time.Since(t0))
			if w.Code != 200 {
				b.Errorf("%d %s", w.Code, w.Body)
				return
			}
			i++
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	b.StopTimer()
	close(stop)
	wg.Wait()
	slices.Sort(all)
	if len(all) > 0 {
		q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) }
		b.ReportMetric(q(0.5), "p50-µs")
		b.ReportMetric(q(0.99), "p99-µs")
		b.ReportMetric(float64(all[len(all)-1].Microseconds()), "max-µs")
	}
}

// discardWriter is a reusable http.ResponseWriter that keeps nothing, so
// BenchmarkHandler measures the handler alone.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *discardWriter) Header() http.Header  { return w.h }
func (w *discardWriter) WriteHeader(code int) { w.code = code }
func (w *discardWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}

// BenchmarkHandler is the cost and the allocations of one request of each
// endpoint in the handler, without the network and without a recorder.
func BenchmarkHandler(b *testing.B) {
	const keys = 10_000
	s, now := benchServer(b, keys, 6)
	from := strconv.FormatInt(now-5*60_000, 10)
	for _, c := range []struct{ name, url string }{
		{"counts", "/v1/counts/key42?type=VIEW&from=" + from},
		{"counts-filter", "/v1/counts/key42?type=VIEW&filter=country:US&from=" + from},
		{"stats", "/v1/stats/key42?type=VIEW&fn=avg&from=" + from},
		{"top", "/v1/top?type=VIEW&n=10&from=" + from},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, c.url, nil)
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				s.ServeHTTP(w, r)
				if w.code != 200 {
					b.Fatal(w.code)
				}
			}
		})
	}
}

// BenchmarkApply is the consumer's cost of storing one total: batches of
// 2,000 updates of 10,000 keys x 5 dimension sets in the current window
// (ns/op is per total).
func BenchmarkApply(b *testing.B) {
	s, _ := benchServer(b, 10_000, 6)
	cur := total.WindowStart(time.Now().UnixMilli(), 60_000)
	rng := rand.New(rand.NewPCG(3, 4))
	dims := []string{"country=US", "country=DE", "country=FR", "country=BR", "country=IN"}
	batches := make([][]total.Total, 16)
	for i := range batches {
		for range 2000 {
			k := rng.IntN(10_000)
			batches[i] = append(batches[i], total.Total{Key: "key" + strconv.Itoa(k), Type: "VIEW", DimSet: dims[rng.IntN(len(dims))],
				Start: cur, Size: 60_000, Count: int64(i + 1), Sum: float64(i + 1), Min: 1, Max: 1})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		s.st.apply(batches[n%len(batches)], s.floor)
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*2000), "ns/total")
}
