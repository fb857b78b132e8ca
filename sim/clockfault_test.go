package sim

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestScheduleFactor: SetFactor multiplies the rate from the next send on.
func TestScheduleFactor(t *testing.T) {
	f := func(name string, factor float64, want float64) {
		t.Helper()
		s := NewSchedule(Constant(1000), false, 1)
		n := 0
		set := false
		for at := s.Next(); at < 2*time.Second; at = s.Next() {
			if !set && at >= time.Second {
				s.SetFactor(factor)
				set = true
			}
			n++
		}
		if math.Abs(float64(n)-want) > 0.01*want+2 {
			t.Errorf("%s: %d sends in 2s, want about %.0f", name, n, want)
		}
		if got := s.Factor(); factor > 0 && got != factor {
			t.Errorf("%s: Factor() = %v, want %v", name, got, factor)
		}
	}
	f("x3 from 1s", 3, 1000+3000)
	f("x0.5 from 1s", 0.5, 1000+500)
	f("x1", 1, 2000)
	f("invalid factor is 1", -2, 2000)
}

// TestGeneratorClockFaults: a clock skew and a late burst change the time
// (and lateness) of about their share of the fresh events while they are
// on, and nothing else: the same seed gives the same stream otherwise.
func TestGeneratorClockFaults(t *testing.T) {
	cfg := testConfig()
	cfg.Disorder.LateAfter = 0
	const n = 30000
	gen := func(faulty bool) ([]Item, *Generator) {
		g, err := NewGenerator(cfg)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]Item, n)
		for i := range out {
			if faulty {
				switch i {
				case 10000:
					if err := g.SetClockSkew(0.5, 4*time.Second); err != nil {
						t.Fatal(err)
					}
					if err := g.SetLateBurst(0.2); err != nil {
						t.Fatal(err)
					}
				case 20000:
					_ = g.SetClockSkew(0, 0)
					_ = g.SetLateBurst(0)
				}
			}
			out[i] = g.Next(time.Duration(i) * time.Millisecond)
		}
		return out, g
	}
	base, _ := gen(false)
	got, g := gen(true)
	start := cfg.Start.UnixMilli()
	var fresh, skewed, late int
	freshTS := map[uint64]int64{}
	for i := range got {
		a, b := base[i], got[i]
		if a.Kind != b.Kind || a.Seq != b.Seq || a.Event.ID != b.Event.ID || a.Event.Key != b.Event.Key || a.Event.Value != b.Event.Value {
			t.Fatalf("item %d: the stream changed beyond event times: %+v vs %+v", i, a, b)
		}
		if b.Kind == KindDuplicate {
			if ts, ok := freshTS[b.Seq]; ok && ts != b.Event.TS {
				t.Fatalf("item %d: duplicate of seq %d has time %d, its original %d", i, b.Seq, b.Event.TS, ts)
			}
			continue
		}
		if b.Kind != KindFresh {
			continue
		}
		freshTS[b.Seq] = b.Event.TS
		on := i >= 10000 && i < 20000
		d := b.Event.TS - a.Event.TS
		switch {
		case d == 0 && b.Late == a.Late:
		case on && d == 4000 && b.Late == a.Late:
			skewed++
		case on && b.Late && !a.Late && (b.Event.TS == start+int64(i)-cfg.Disorder.LateBy.Milliseconds() ||
			b.Event.TS == start+int64(i)-cfg.Disorder.LateBy.Milliseconds()+4000):
			late++
			if b.Event.TS != start+int64(i)-cfg.Disorder.LateBy.Milliseconds() {
				skewed++
			}
		default:
			t.Fatalf("item %d (fault on: %v): time %d late %v, without faults %d late %v", i, on, b.Event.TS, b.Late, a.Event.TS, a.Late)
		}
		if on {
			fresh++
		}
	}
	if s := float64(skewed) / float64(fresh); math.Abs(s-0.5) > 0.03 {
		t.Errorf("skewed share %.3f of %d fresh events, want 0.5", s, fresh)
	}
	if s := float64(late) / float64(fresh); math.Abs(s-0.2*0.99) > 0.03 {
		t.Errorf("late share %.3f of %d fresh events, want about 0.2", s, fresh)
	}
	if fs := g.FaultStats(); fs.Skewed != int64(skewed) || fs.Late != int64(late) {
		t.Errorf("FaultStats %+v, counted %d skewed, %d late", fs, skewed, late)
	}
	if err := g.SetClockSkew(1.5, time.Second); err == nil {
		t.Error("share 1.5 accepted")
	}
	noLate := cfg
	noLate.Disorder.LateBy = 0
	g2, _ := NewGenerator(noLate)
	if err := g2.SetLateBurst(0.1); err == nil {
		t.Error("late burst without LateBy accepted")
	}
}

// throttlingTransport answers the first attempt of every batch as the
// gateway's 429 does, and acknowledges re-sends.
type throttlingTransport struct {
	mu   sync.Mutex
	seen map[string]bool // first event id of the batches seen
}

func (f *throttlingTransport) Send(_ context.Context, items []Item, out []Outcome) error {
	f.mu.Lock()
	again := f.seen[items[0].Event.ID]
	f.seen[items[0].Event.ID] = true
	f.mu.Unlock()
	for i := range out {
		switch {
		case !again:
			out[i] = Throttled
		case items[i].Kind == KindMalformed:
			out[i] = Rejected
		default:
			out[i] = Acked
		}
	}
	return nil
}

// TestSenderThrottled: items the receiver throttles are counted as such,
// re-sent, and acknowledged then; none is counted acknowledged before.
func TestSenderThrottled(t *testing.T) {
	g, _ := NewGenerator(testConfig())
	var acked atomic.Int64
	s, err := NewSender(SenderConfig{Generator: g, Schedule: NewSchedule(Constant(2000), false, 1), Duration: 300 * time.Millisecond,
		Transport: &throttlingTransport{seen: map[string]bool{}}, Connections: 2, BatchMax: 50,
		OnAck: func(*Item, time.Time) { acked.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := s.Progress()
	if p.Throttled == 0 || p.Throttled != p.Resent || p.Failed != 0 || p.Acked+p.Rejected != p.Generated || acked.Load() != p.Acked {
		t.Fatalf("progress %+v (OnAck %d): want every item throttled once, re-sent, then acknowledged", p, acked.Load())
	}
}
