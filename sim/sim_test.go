package sim

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/event"
)

func TestZipfMatchesTheory(t *testing.T) {
	f := func(n int, s float64) {
		t.Helper()
		z, err := NewZipf(n, s)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		const draws = 200_000
		counts := make([]int, n)
		for i := 0; i < draws; i++ {
			counts[z.Next(r, 0)]++
		}
		for _, k := range []int{0, 1, n / 2} {
			want := z.Prob(k) * draws
			if got := float64(counts[k]); math.Abs(got-want) > 5*math.Sqrt(want)+5 {
				t.Errorf("n=%d s=%v key %d: %v draws, want %.0f", n, s, k, got, want)
			}
		}
		// P(0)/P(1) = 2^s.
		if r := z.Prob(0) / z.Prob(1); math.Abs(r-math.Pow(2, s)) > 1e-9 {
			t.Errorf("n=%d s=%v: P0/P1 = %v, want %v", n, s, r, math.Pow(2, s))
		}
	}
	f(100, 0.8) // s <= 1: not possible with math/rand/v2's Zipf
	f(1000, 1.1)
	f(10, 2)
	if _, err := NewZipf(10, 0); err == nil {
		t.Error("zipf s=0 accepted")
	}
}

func TestScheduleRate(t *testing.T) {
	f := func(name string, rate Rate, poisson bool, over time.Duration, want float64) {
		t.Helper()
		s := NewSchedule(rate, poisson, 1)
		n := 0
		prev := time.Duration(0)
		for at := s.Next(); at < over; at = s.Next() {
			if at < prev {
				t.Fatalf("%s: schedule went back from %v to %v", name, prev, at)
			}
			prev = at
			n++
		}
		if math.Abs(float64(n)-want) > 0.03*want+2 {
			t.Errorf("%s: %d sends, want about %.0f", name, n, want)
		}
	}
	f("constant", Constant(1000), false, 10*time.Second, 10000)
	f("poisson", Constant(1000), true, 10*time.Second, 10000)
	f("ramp", Ramp{From: 0, To: 1000, Over: 10 * time.Second}, false, 10*time.Second, 5000)
	f("spike", Spike{Base: 100, Peak: 1000, Start: 2 * time.Second, For: 2 * time.Second}, false, 10*time.Second, 800+2000)
	f("diurnal", Diurnal{Mean: 500, Amplitude: 0.5, Period: 10 * time.Second}, false, 10*time.Second, 5000)
}

func testConfig() Config {
	z, _ := NewZipf(100, 1.1)
	return Config{
		Seed: 3, IDPrefix: "t-", Start: time.UnixMilli(1_700_000_000_000), Keys: z,
		Types:      []TypeSpec{{Name: "VIEW", Weight: 3, Values: UniformInt{1, 100}}, {Name: "CLICK", Weight: 1, Values: Fixed(1)}},
		Dims:       []DimSpec{{Name: "device", Values: []string{"ios", "web"}}, {Name: "country", Values: DimValues("c", 5), Skew: 1}},
		Disorder:   Disorder{OutOfOrder: 0.1, MaxDelay: 2 * time.Second, TooLate: 0.01, LateBy: 2 * time.Minute},
		Duplicates: Duplicates{Fraction: 0.1, Burst: 2},
		Malformed:  Malformed{Fraction: 0.05},
	}
}

func TestGeneratorDeterministicAndValid(t *testing.T) {
	gen := func() []Item {
		g, err := NewGenerator(testConfig())
		if err != nil {
			t.Fatal(err)
		}
		var out []Item
		for i := 0; i < 20000; i++ {
			out = append(out, g.Next(time.Duration(i)*time.Millisecond))
		}
		return out
	}
	a, b := gen(), gen()
	v, _ := event.NewValidator()
	byID := map[string]Item{}
	var kinds [3]int
	late := 0
	for i := range a {
		x, y := a[i], b[i]
		if x.Event.ID != y.Event.ID || x.Event.Key != y.Event.Key || x.Event.TS != y.Event.TS || x.Kind != y.Kind || x.Event.DimSet() != y.Event.DimSet() {
			t.Fatalf("item %d differs between two runs with the same seed: %+v vs %+v", i, x, y)
		}
		kinds[x.Kind]++
		err := v.Validate(&x.Event)
		switch x.Kind {
		case KindMalformed:
			if err == nil && x.Raw == nil {
				t.Fatalf("malformed item %d is valid: %+v", i, x.Event)
			}
		default:
			if err != nil {
				t.Fatalf("item %d (%v) invalid: %v", i, x.Kind, err)
			}
			if x.Event.Value != math.Trunc(x.Event.Value) {
				t.Fatalf("value %v not whole", x.Event.Value)
			}
			if prev, ok := byID[x.Event.ID]; ok {
				if x.Kind != KindDuplicate || prev.Event.Key != x.Event.Key || prev.Event.TS != x.Event.TS || prev.Event.DimSet() != x.Event.DimSet() || prev.Seq != x.Seq {
					t.Fatalf("id %s re-used by a different event: %+v vs %+v", x.Event.ID, prev, x)
				}
			} else if x.Kind == KindDuplicate {
				t.Fatalf("duplicate of an unseen id %s", x.Event.ID)
			}
			byID[x.Event.ID] = x
			if x.Late && x.Kind == KindFresh {
				late++
			}
		}
	}
	n := float64(len(a))
	if f := float64(kinds[KindDuplicate]) / n; f < 0.09 || f > 0.11 { // 10%, in bursts of 2
		t.Errorf("duplicate share %.3f", f)
	}
	if f := float64(kinds[KindMalformed]) / n; f < 0.04 || f > 0.06 {
		t.Errorf("malformed share %.3f", f)
	}
	if late == 0 {
		t.Error("no late events")
	}
}

// fakeTransport acknowledges everything after a delay, fails every
// failEvery'th attempt of a batch, and records the ids.
type fakeTransport struct {
	mu    sync.Mutex
	delay time.Duration
	calls int
	failN int
	acked map[string]int
	inMax int
	inNow int
}

func (f *fakeTransport) Send(_ context.Context, items []Item, out []Outcome) error {
	f.mu.Lock()
	f.calls++
	fail := f.failN > 0 && f.calls%f.failN == 0
	f.inNow++
	f.inMax = max(f.inMax, f.inNow)
	f.mu.Unlock()
	time.Sleep(f.delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inNow--
	for i := range items {
		switch {
		case fail:
			out[i] = Failed
		case items[i].Kind == KindMalformed:
			out[i] = Rejected
		default:
			out[i] = Acked
			f.acked[items[i].Event.ID]++
		}
	}
	return nil
}

func TestSenderOpenModel(t *testing.T) {
	g, err := NewGenerator(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	tr := &fakeTransport{delay: 20 * time.Millisecond, failN: 7, acked: map[string]int{}}
	var mu sync.Mutex
	onAck := 0
	s, err := NewSender(SenderConfig{Generator: g, Schedule: NewSchedule(Constant(5000), false, 1), Duration: time.Second,
		Transport: tr, Connections: 4, BatchMax: 100, TracerEvery: 100 * time.Millisecond,
		OnAck: func(*Item, time.Time) { mu.Lock(); onAck++; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// Intervals taken during the run (as the run's per-second series
	// does) partition the acknowledged items.
	var ivCount int64
	ivDone, stopIv := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ivDone)
		for {
			select {
			case <-stopIv:
				return
			case <-time.After(100 * time.Millisecond):
				ivCount += s.TakeInterval().TotalCount()
			}
		}
	}()
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(stopIv)
	<-ivDone
	ivCount += s.TakeInterval().TotalCount()
	p := s.Progress()
	if ivCount != p.Acked {
		t.Errorf("intervals hold %d latencies, want every acked item (%d)", ivCount, p.Acked)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("run took %v", el)
	}
	if p.Generated < 4900 || p.Generated > 5100+20 {
		t.Errorf("generated %d, want about 5000 (+10 tracers)", p.Generated)
	}
	if p.Acked+p.Rejected != p.Generated || p.Failed != 0 || p.Resent == 0 {
		t.Errorf("progress %+v: every item acked or rejected after re-sends", p)
	}
	if int64(onAck) != p.Acked {
		t.Errorf("OnAck called %d times, acked %d", onAck, p.Acked)
	}
	h := s.Histogram()
	if h.TotalCount() != p.Acked || h.ValueAtQuantile(50) < 20_000 {
		t.Errorf("latency histogram: %d values, p50 %dµs (want >= the 20ms transport delay)", h.TotalCount(), h.ValueAtQuantile(50))
	}
	if tr.inMax > 4 {
		t.Errorf("%d batches in flight, want <= 4 connections", tr.inMax)
	}
}

// TestSenderCoordinatedOmission: a transport far slower than the
// schedule makes the latency grow with the backlog (measured from the
// intended send time), instead of staying at the transport's delay.
func TestSenderCoordinatedOmission(t *testing.T) {
	g, _ := NewGenerator(testConfig())
	tr := &fakeTransport{delay: 50 * time.Millisecond, acked: map[string]int{}}
	s, _ := NewSender(SenderConfig{Generator: g, Schedule: NewSchedule(Constant(2000), false, 1), Duration: 500 * time.Millisecond,
		Transport: tr, Connections: 1, BatchMax: 20})
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// 1 connection x 20 events / 50 ms = 400 events/s for 2000 offered:
	// the last of the 1000 events wait ~2 s.
	if p99 := s.Histogram().ValueAtQuantile(99); p99 < 1_000_000 {
		t.Errorf("p99 %dµs: coordinated omission not corrected", p99)
	}
	if s.Progress().MaxLag < time.Second {
		t.Errorf("max lag %v: falling behind not reported", s.Progress().MaxLag)
	}
}

func BenchmarkGenerate(b *testing.B) {
	g, err := NewGenerator(testConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var buf []byte
	for i := 0; b.Loop(); i++ {
		it := g.Next(time.Duration(i) * time.Microsecond)
		buf = event.AppendJSON(buf[:0], &it.Event)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// nullTransport encodes each batch as the gateway would and acknowledges
// it at once: the sender's own ceiling.
type nullTransport struct{ format Format }

func (n nullTransport) Send(_ context.Context, items []Item, out []Outcome) error {
	var buf []byte
	for i := range items {
		if n.format == Protobuf {
			buf = appendProtoItem(buf[:0], &items[i])
		} else {
			buf = event.AppendJSON(buf[:0], &items[i].Event)
		}
		out[i] = Acked
		if items[i].Kind == KindMalformed {
			out[i] = Rejected
		}
	}
	return nil
}

// BenchmarkSend is the open-model sender's ceiling: an offered rate far
// above what it can do, through a transport that only encodes; reports
// events/s handed over and acknowledged.
func BenchmarkSend(b *testing.B) {
	for _, f := range []Format{JSON, Protobuf} {
		name := map[Format]string{JSON: "json", Protobuf: "protobuf"}[f]
		b.Run(name, func(b *testing.B) {
			var acked int64
			var el time.Duration
			for b.Loop() {
				g, _ := NewGenerator(testConfig())
				s, _ := NewSender(SenderConfig{Generator: g, Schedule: NewSchedule(Constant(5_000_000), false, 1), Duration: 500 * time.Millisecond,
					Transport: nullTransport{f}, Connections: 4, BatchMax: 1000})
				t0 := time.Now()
				if err := s.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
				el += time.Since(t0)
				acked += s.Progress().Acked
			}
			b.ReportMetric(float64(acked)/el.Seconds(), "events/s")
		})
	}
}

// TestDupHorizon: no duplicate made after DupHorizon was read copies an
// event intended before it, and the horizon follows the traffic.
func TestDupHorizon(t *testing.T) {
	g, err := NewGenerator(Config{Seed: 7, Keys: Uniform{N: 100}, Types: []TypeSpec{{Name: "VIEW", Weight: 1, Values: Fixed(1)}},
		Duplicates: Duplicates{Fraction: 0.2, Burst: 3, Recent: 64}})
	if err != nil {
		t.Fatal(err)
	}
	if g.DupHorizon() != 0 {
		t.Fatal("horizon before any event")
	}
	first := map[uint64]time.Duration{} // seq -> intended send time of the fresh event
	var h time.Duration
	for i := range 200000 {
		at := time.Duration(i) * time.Millisecond
		it := g.Next(at)
		switch it.Kind {
		case KindFresh:
			first[it.Seq] = at
		case KindDuplicate:
			if o := first[it.Seq]; o < h {
				t.Fatalf("duplicate at %v of an event sent at %v, before the horizon %v read earlier", at, o, h)
			}
		}
		if i%1000 == 0 {
			nh := g.DupHorizon()
			if nh < h {
				t.Fatalf("horizon moved back: %v -> %v", h, nh)
			}
			h = nh
		}
	}
	if end := 200 * time.Second; h < end-10*time.Second {
		t.Fatalf("horizon %v far behind the traffic (%v)", h, end)
	}
}

// orderTransport acknowledges everything after a delay and records the
// items in the order they were sent.
type orderTransport struct {
	mu    sync.Mutex
	delay time.Duration
	sent  []Item
}

func (o *orderTransport) Send(_ context.Context, items []Item, out []Outcome) error {
	time.Sleep(o.delay)
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range items {
		o.sent = append(o.sent, items[i])
		out[i] = Acked
		if items[i].Kind == KindMalformed {
			out[i] = Rejected
		}
	}
	return nil
}

// A sender that falls behind its schedule sends its tracers in event-time
// order with the traffic: a tracer timed by the wall clock would run ahead
// of the items still due and push the engine's watermark past them.
func TestSenderTracersFollowALaggingSchedule(t *testing.T) {
	g, err := NewGenerator(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	// One connection, 100 events per batch every 20 ms: at most 5,000/s
	// against 20,000/s scheduled, so the sender lags by most of the run.
	tr := &orderTransport{delay: 20 * time.Millisecond}
	s, err := NewSender(SenderConfig{Generator: g, Schedule: NewSchedule(Constant(20000), false, 1), Duration: 500 * time.Millisecond,
		Transport: tr, Connections: 1, BatchMax: 100, TracerEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Progress().MaxLag < 200*time.Millisecond {
		t.Fatalf("max lag %v: the test needs a sender that falls behind", s.Progress().MaxLag)
	}
	tracers := 0
	var last time.Duration // the latest tracer so far
	for i, it := range tr.sent {
		if it.Tracer {
			tracers++
			last = max(last, it.At)
			continue
		}
		if tracers > 0 && it.At < last {
			t.Fatalf("item %d (due at %v) sent after the tracer due at %v", i, it.At, last)
		}
	}
	if tracers < 5 {
		t.Errorf("%d tracers sent, want about 10", tracers)
	}
}

// TestKeyNames: a key's name is KeyPrefix and its index in decimal, cached
// or not, and an id is IDPrefix and the sequence number.
func TestKeyNames(t *testing.T) {
	cfg := testConfig()
	cfg.KeyPrefix, cfg.IDPrefix = "video-", "run7-"
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []uint64{0, 7, 1000, 5, maxCachedKeys - 1, maxCachedKeys, 1 << 40, 7} {
		if got, want := g.keyName(k), "video-"+strconv.FormatUint(k, 10); got != want {
			t.Errorf("keyName(%d) = %q, want %q", k, got, want)
		}
	}
	if got := g.ID(12345678901234567890); got != "run7-12345678901234567890" {
		t.Errorf("ID = %q", got)
	}
}
