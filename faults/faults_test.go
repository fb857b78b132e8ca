package faults

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fakeTarget records the calls a fault makes.
type fakeTarget struct {
	mu    sync.Mutex
	calls []string
	c     *kfake.Cluster
}

func (f *fakeTarget) add(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return nil
}

func (f *fakeTarget) Workers() int { return 2 }
func (f *fakeTarget) KillWorker(_ context.Context, i int) error {
	return f.add("kill" + string(rune('0'+i)))
}
func (f *fakeTarget) RestartWorker(_ context.Context, i int) error {
	return f.add("restart" + string(rune('0'+i)))
}
func (f *fakeTarget) PauseWorker(i int) error           { return f.add("pause" + string(rune('0'+i))) }
func (f *fakeTarget) ResumeWorker(i int) error          { return f.add("resume" + string(rune('0'+i))) }
func (f *fakeTarget) KafkaCluster() *kfake.Cluster      { return f.c }
func (f *fakeTarget) KillSink() error                   { return f.add("killsink") }
func (f *fakeTarget) RestartSink(context.Context) error { return f.add("restartsink") }

func TestValidate(t *testing.T) {
	f := func(s Spec, want string) {
		t.Helper()
		err := s.Validate()
		switch {
		case want == "" && err != nil:
			t.Errorf("%+v: %v", s, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%+v: got %v, want an error with %q", s, err, want)
		}
	}
	sec := time.Second
	f(Spec{Kind: "worker-crash", Start: sec, Duration: sec}, "")
	f(Spec{Kind: "worker-crash", Start: sec, Duration: sec, Params: map[string]any{"worker": 1}}, "")
	f(Spec{Kind: "worker-pause", Duration: sec, Params: map[string]any{"worker": -1}}, "must be >= 0")
	f(Spec{Kind: "sink-outage", Duration: sec}, "")
	f(Spec{Kind: "sink-outage", Duration: sec, Params: map[string]any{"x": 1}}, "unknown param x")
	f(Spec{Kind: "broker-errors", Duration: sec, Params: map[string]any{"requests": []any{"produce", "txn"}, "error": "CONCURRENT_TRANSACTIONS", "probability": 0.5}}, "")
	f(Spec{Kind: "broker-errors", Duration: sec, Params: map[string]any{"requests": []any{"nope"}}}, `unknown "nope"`)
	f(Spec{Kind: "broker-errors", Duration: sec, Params: map[string]any{"error": "NO_SUCH_ERROR"}}, "unknown Kafka error")
	f(Spec{Kind: "broker-errors", Duration: sec, Params: map[string]any{"probability": 2}}, "(0, 1]")
	f(Spec{Kind: "meteor", Duration: sec}, "kinds: worker-crash, worker-pause, broker-errors, sink-outage")
	f(Spec{Kind: "sink-outage"}, "duration must be > 0")
	f(Spec{Kind: "sink-outage", Start: -sec, Duration: sec}, "start must be >= 0")
}

// TestSchedule runs two faults with a recovery probe and checks the calls,
// their order and the recorded times.
func TestSchedule(t *testing.T) {
	tg := &fakeTarget{}
	var healed atomic.Int64
	s := &Schedule{
		Specs: []Spec{
			{Name: "crash", Kind: "worker-crash", Start: 50 * time.Millisecond, Duration: 100 * time.Millisecond, Params: map[string]any{"worker": 1}},
			{Kind: "sink-outage", Start: 0, Duration: 100 * time.Millisecond},
			{Kind: "worker-pause", Duration: time.Millisecond, Params: map[string]any{"worker": 5}},
		},
		Target: tg,
		Poll:   10 * time.Millisecond,
		Recovered: func(context.Context) bool {
			// Recovered 3 polls after a heal.
			return healed.Add(1)%3 == 0
		},
	}
	t0 := time.Now()
	recs := s.Run(context.Background())
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	c := recs[0]
	if c.Name != "crash" || c.Kind != "worker-crash" || c.Error != "" {
		t.Fatalf("record %+v", c)
	}
	if d := c.InjectedAt.Sub(t0); d < 45*time.Millisecond || d > time.Second {
		t.Errorf("injected %s after the start", d)
	}
	// The heal is due at start+duration from the schedule's start (150 ms),
	// not duration after a late injection: on a loaded box the injection
	// may come late and the heal still on time.
	if d := c.HealedAt.Sub(t0); d < 145*time.Millisecond || d > 2*time.Second || c.HealedAt.Before(c.InjectedAt) {
		t.Errorf("healed %s after the start (injected %s after it)", d, c.InjectedAt.Sub(t0))
	}
	if c.RecoveryS < 0 || c.RecoveryS > 1 {
		t.Errorf("recovery %vs", c.RecoveryS)
	}
	if recs[1].Name != "sink-outage-1" || recs[1].Error != "" || recs[1].RecoveryS < 0 {
		t.Errorf("record %+v", recs[1])
	}
	if recs[2].Error == "" || !strings.Contains(recs[2].Error, "2 workers") || !recs[2].HealedAt.IsZero() {
		t.Errorf("a fault on a missing worker: %+v", recs[2])
	}
	got := strings.Join(tg.calls, ",")
	if got != "killsink,kill1,restartsink,restart1" {
		t.Errorf("calls %s", got)
	}
}

// TestScheduleCancel heals an injected fault when the run ends first.
func TestScheduleCancel(t *testing.T) {
	tg := &fakeTarget{}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	recs := (&Schedule{Specs: []Spec{
		{Kind: "sink-outage", Duration: time.Hour},
		{Kind: "worker-crash", Start: time.Hour, Duration: time.Second},
	}, Target: tg}).Run(ctx)
	if got := strings.Join(tg.calls, ","); got != "killsink,restartsink" {
		t.Errorf("calls %s", got)
	}
	if recs[0].HealedAt.IsZero() || recs[1].Error == "" {
		t.Errorf("records %+v", recs)
	}
}

// TestBrokerErrors injects NOT_LEADER_FOR_PARTITION on produce into a real
// kfake cluster: a produce fails while it is in, and works once healed.
func TestBrokerErrors(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordRetries(1), kgo.RequestRetries(1), kgo.MetadataMinAge(10*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	produce := func() error {
		return cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("v")}).FirstErr()
	}
	if err := produce(); err != nil {
		t.Fatal(err)
	}
	f, err := New(Spec{Kind: "broker-errors", Duration: time.Second, Params: map[string]any{"requests": "produce"}})
	if err != nil {
		t.Fatal(err)
	}
	tg := &fakeTarget{c: c}
	if err := f.Inject(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if err := produce(); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Errorf("produce with the fault in: %v, want NOT_LEADER_FOR_PARTITION", err)
	}
	if h := f.(*brokerErrors).Hits(); h == 0 {
		t.Error("no hits")
	}
	if err := f.Heal(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if err := produce(); err != nil {
		t.Errorf("produce after the heal: %v", err)
	}
	if h := f.(*brokerErrors).Hits(); h == 0 {
		t.Error("hits forgotten after the heal")
	}
	if err := f.Inject(ctx, &fakeTarget{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("inject without a cluster: %v", err)
	}
}
