package reports

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/engine/total"
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
}

func recordSince(h *hdrhistogram.Histogram, mu *sync.Mutex, from time.Time) {
	us := max(1, min(time.Since(from).Microseconds(), int64(time.Hour/time.Microsecond)))
	mu.Lock()
	_ = h.RecordValue(us)
	mu.Unlock()
}

// Counter is the count read of a query API (*client.Client is one): what
// the query load and the freshness tracers ask.
type Counter interface {
	Count(ctx context.Context, req client.CountRequest) (client.CountResponse, error)
}

// QueryLoad is an open-model query load: Count queries at a fixed rate,
// whatever the answers, with latency measured from each query's intended
// start (coordinated omission corrected).
type QueryLoad struct {
	Client Counter
	// Rate is queries a second.
	Rate float64
	// Pick chooses each query's key and type.
	Pick func(r *rand.Rand) (key, typ string)
	// Window is the window size asked for; the range is the last minute.
	Window time.Duration
	// Auto asks window=auto instead (a stack with a retention config,
	// whose finest totals may be kept less than a minute).
	Auto bool
	// MaxInFlight bounds concurrent queries (default 64); beyond it,
	// queries wait, and their wait counts in their latency.
	MaxInFlight int

	once sync.Once
	mu   sync.Mutex
	hist *hdrhistogram.Histogram
	iv   *hdrhistogram.Histogram // since the last TakeInterval; under mu
	n    atomic.Int64
	errs atomic.Int64
}

func (q *QueryLoad) init() {
	q.once.Do(func() { q.hist, q.iv = newHist(), newHist() })
}

// Run sends queries until ctx is done.
func (q *QueryLoad) Run(ctx context.Context) {
	q.init()
	if q.Rate <= 0 {
		return
	}
	if q.MaxInFlight <= 0 {
		q.MaxInFlight = 64
	}
	sem := make(chan struct{}, q.MaxInFlight)
	r := rand.New(rand.NewPCG(42, 43))
	gap := time.Duration(float64(time.Second) / q.Rate)
	start := time.Now()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := 1; ; i++ {
		intended := start.Add(time.Duration(i) * gap)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(intended)):
		}
		key, typ := q.Pick(r)
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			now := time.Now()
			_, err := q.Client.Count(ctx, client.CountRequest{Key: key, Range: client.Range{Type: typ, From: now.Add(-time.Minute), To: now, Window: q.Window, Auto: q.Auto}})
			if ctx.Err() != nil {
				return
			}
			q.n.Add(1)
			if err != nil {
				q.errs.Add(1)
				return
			}
			us := max(1, min(time.Since(intended).Microseconds(), int64(time.Hour/time.Microsecond)))
			q.mu.Lock()
			_ = q.hist.RecordValue(us)
			_ = q.iv.RecordValue(us)
			q.mu.Unlock()
		}()
	}
}

// Histogram is the latency (µs) of the answered queries; after Run.
func (q *QueryLoad) Histogram() *hdrhistogram.Histogram { q.init(); return q.hist }

// TakeInterval returns the latency (µs) of the queries answered since the
// previous call and starts a new interval; safe during Run.
func (q *QueryLoad) TakeInterval() *hdrhistogram.Histogram {
	q.init()
	fresh := newHist()
	q.mu.Lock()
	h := q.iv
	q.iv = fresh
	q.mu.Unlock()
	return h
}

// Counts are the queries sent and the errors.
func (q *QueryLoad) Counts() (n, errs int64) { return q.n.Load(), q.errs.Load() }

// Freshness measures end-to-end freshness: for each tracer event (a key
// of its own), the time from its intended send until the query service
// counts it.
type Freshness struct {
	Client Counter
	// Window is the window size asked for.
	Window time.Duration
	// Timeout is how long a tracer is polled for (default 60s).
	Timeout time.Duration
	// Poll is the polling interval (default 20ms).
	Poll time.Duration

	once   sync.Once
	mu     sync.Mutex
	hist   *hdrhistogram.Histogram
	seen   []Point // each tracer's freshness (ms) at its intended send time
	wg     sync.WaitGroup
	n      atomic.Int64
	missed atomic.Int64
}

func (f *Freshness) init() {
	f.once.Do(func() {
		f.hist = newHist()
		if f.Timeout <= 0 {
			f.Timeout = 60 * time.Second
		}
		if f.Poll <= 0 {
			f.Poll = 20 * time.Millisecond
		}
	})
}

// Track polls for the tracer event (key, typ, event time ts) intended to
// be sent at intended, in the background.
func (f *Freshness) Track(ctx context.Context, key, typ string, ts, intended time.Time) {
	f.init()
	f.wg.Add(1)
	f.n.Add(1)
	go func() {
		defer f.wg.Done()
		ws := time.UnixMilli(total.WindowStart(ts.UnixMilli(), f.Window.Milliseconds()))
		rng := client.Range{Type: typ, From: ws, To: ws.Add(f.Window), Window: f.Window}
		deadline := time.Now().Add(f.Timeout)
		for time.Now().Before(deadline) {
			c, err := f.Client.Count(ctx, client.CountRequest{Key: key, Range: rng})
			if err == nil && c.Count > 0 {
				recordSince(f.hist, &f.mu, intended)
				f.mu.Lock()
				f.seen = append(f.seen, Point{T: intended, V: float64(time.Since(intended).Microseconds()) / 1000})
				f.mu.Unlock()
				return
			}
			select {
			case <-ctx.Done():
				f.missed.Add(1)
				return
			case <-time.After(f.Poll):
			}
		}
		f.missed.Add(1)
	}()
}

// Wait waits for every tracer to be seen or given up on.
func (f *Freshness) Wait() { f.init(); f.wg.Wait() }

// Histogram is the freshness (µs) of the tracers seen; after Wait.
func (f *Freshness) Histogram() *hdrhistogram.Histogram { f.init(); return f.hist }

// Series is each tracer's freshness (ms) at its intended send time, in
// time order, as the report's freshness latency over time; after Wait.
// ok is false when no tracer was seen.
func (f *Freshness) Series() (_ LatencySeries, ok bool) {
	f.mu.Lock()
	pts := slices.Clone(f.seen)
	f.mu.Unlock()
	if len(pts) == 0 {
		return LatencySeries{}, false
	}
	slices.SortFunc(pts, func(a, b Point) int { return a.T.Compare(b.T) })
	return LatencySeries{Kind: "freshness", Percentiles: []Series{{Name: "each tracer", Points: pts}}}, true
}

// Counts are the tracers tracked and the ones never seen.
func (f *Freshness) Counts() (n, missed int64) { return f.n.Load(), f.missed.Load() }
