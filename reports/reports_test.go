package reports

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"strconv"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/sim/oracle"
)

// fakeQuery answers from a truth, with planted differences.
type fakeQuery struct {
	mu      sync.Mutex
	truth   map[string]oracle.Window
	off     map[string]int64 // key -> count delta
	calls   int
	healAt  int    // after this many calls, the deltas vanish (0: never)
	phantom string // a key top-N answers with that the truth lacks
}

func wkey(key, typ string, size time.Duration, start time.Time) string {
	return key + "|" + typ + "|" + size.String() + "|" + start.UTC().String()
}

func (f *fakeQuery) Stats(_ context.Context, r client.StatsRequest) (client.StatsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	w := f.truth[wkey(r.Key, r.Type, r.Window, r.From)]
	d := f.off[r.Key]
	if f.healAt > 0 && f.calls > f.healAt {
		d = 0
	}
	return client.StatsResponse{Key: r.Key, Fn: r.Fn, Count: w.Count + d, Value: w.Sum + float64(d)}, nil
}

func (f *fakeQuery) Top(_ context.Context, r client.TopRequest) (client.TopResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var resp client.TopResponse
	for _, w := range f.truth {
		if w.Type == r.Type && w.Size == r.Window.Milliseconds() && w.Start == r.From.UnixMilli() {
			resp.Items = append(resp.Items, client.TopItem{Key: w.Key, Count: w.Count})
		}
	}
	if f.phantom != "" && r.Window == 10*time.Second && r.Type == "VIEW" {
		resp.Items = append(resp.Items, client.TopItem{Key: f.phantom, Count: 3})
	}
	return resp, nil
}

func testLedger() *oracle.Oracle {
	l, err := oracle.New(oracle.Config{Windows: []time.Duration{10 * time.Second, time.Minute}})
	if err != nil {
		panic(err)
	}
	base := int64(1_700_000_040_000)
	for i := 0; i < 1000; i++ {
		e := oracle.Event{ID: "x" + strconv.Itoa(i), Key: "k" + string(rune('a'+i%7)), Type: []string{"VIEW", "CLICK"}[i%2],
			Value: float64(i % 10), HasValue: true, TS: base + int64(i)*100}
		l.Add(oracle.Sent{Event: &e, Ref: base + 60_000, Acked: true, Late: i%100 == 0})
	}
	return l
}

func fakeFor(l *oracle.Oracle) *fakeQuery {
	f := &fakeQuery{truth: map[string]oracle.Window{}, off: map[string]int64{}}
	for _, w := range l.Windows(oracle.ByKey, false) {
		f.truth[wkey(w.Key, w.Type, time.Duration(w.Size)*time.Millisecond, time.UnixMilli(w.Start))] = w
	}
	return f
}

func TestCheckExact(t *testing.T) {
	l := testLedger()
	acc, err := Check(context.Background(), l, fakeFor(l), CheckConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if !acc.Exact || acc.MismatchedWindows != 0 || acc.ExpectedEvents != 990 || acc.CountedEvents != 990 || acc.LateEvents != 10 || len(acc.WorstWindows) != 0 {
		t.Fatalf("accuracy %+v", acc)
	}
}

func TestCheckFindsBadWindows(t *testing.T) {
	l := testLedger()
	f := fakeFor(l)
	f.off["kc"] = -2 // lost
	f.off["ke"] = 1  // double-counted
	acc, err := Check(context.Background(), l, f, CheckConfig{Parallel: 4})
	if err != nil {
		t.Fatal(err)
	}
	if acc.Exact || acc.MismatchedWindows == 0 || acc.Lost == 0 || acc.Duplicated == 0 {
		t.Fatalf("accuracy %+v", acc)
	}
	w := acc.WorstWindows[0]
	if w.Key != "kc" || w.GotCount != w.WantCount-2 {
		t.Fatalf("worst window %+v, want key kc with 2 lost", w)
	}
	if s := w.String(); !strings.Contains(s, "kc") || !strings.Contains(s, "want count") {
		t.Fatalf("window text %q", s)
	}
}

func TestCheckFindsUnexpectedKeys(t *testing.T) {
	l := testLedger()
	f := fakeFor(l)
	f.phantom = "never-sent"
	acc, err := Check(context.Background(), l, f, CheckConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if acc.Exact || acc.UnexpectedKeys == 0 || acc.Duplicated != 3*int64(acc.UnexpectedKeys) || acc.WorstWindows[0].Key != "never-sent" {
		t.Fatalf("accuracy %+v", acc)
	}
}

func TestCheckDrainWaits(t *testing.T) {
	l := testLedger()
	f := fakeFor(l)
	f.off["ka"] = -1
	f.healAt = 200 // the pipeline catches up after a few rounds
	var rounds int
	acc, err := Check(context.Background(), l, f, CheckConfig{Drain: 10 * time.Second, Progress: func(off, total int) { rounds++ }})
	if err != nil {
		t.Fatal(err)
	}
	if !acc.Exact || rounds < 2 {
		t.Fatalf("exact=%v after %d drain rounds", acc.Exact, rounds)
	}
}

func sample() *Report {
	return &Report{
		Scenario: "t", StartedAt: time.Unix(0, 0).UTC(), DurationS: 10,
		Throughput: Throughput{OfferedEventsPerS: 1000, AchievedEventsPerS: 990},
		Latency: Latencies{
			IngestAck: Percentiles{P50: 2, P90: 5, P99: 20, P999: 40, Max: 50, Count: 100},
			Freshness: Percentiles{P50: 50, P90: 80, P99: 100, P999: 120, Max: 130, Count: 10},
			Query:     Percentiles{P50: 1, P90: 2, P99: 3, P999: 4, Max: 5, Count: 100},
		},
		Accuracy: Accuracy{Exact: true, WorstWindows: []WindowDiff{}},
		Faults:   []FaultRecord{},
	}
}

func TestSLO(t *testing.T) {
	f := func(th Thresholds, mutate func(*Report), wantPass bool, wantFailed string) {
		t.Helper()
		r := sample()
		if mutate != nil {
			mutate(r)
		}
		r.EvaluateSLO(th)
		if r.Pass != wantPass {
			t.Errorf("%+v: pass=%v, want %v (%+v)", th, r.Pass, wantPass, r.SLO)
		}
		if got := strings.Join(r.Failed(), ";"); !strings.Contains(got, wantFailed) {
			t.Errorf("failed %q lacks %q", got, wantFailed)
		}
	}
	all := Thresholds{MinThroughputEventsPerS: 900, MaxP99IngestAckMS: 50, MaxP99FreshnessMS: 1000, MaxP99QueryMS: 10, AccuracyExact: true}
	f(all, nil, true, "")
	f(all, func(r *Report) { r.Throughput.AchievedEventsPerS = 800 }, false, "min_throughput_events_per_s")
	f(all, func(r *Report) { r.Latency.IngestAck.P99 = 51 }, false, "max_p99_ingest_ack_ms")
	f(all, func(r *Report) { r.Latency.Freshness = Percentiles{} }, false, "max_p99_freshness_ms")
	f(all, func(r *Report) { r.Accuracy.Exact = false }, false, "accuracy_exact")
	f(Thresholds{}, func(r *Report) { r.Accuracy.Exact = false }, true, "")
}

func TestBaseline(t *testing.T) {
	base := sample()
	base.Latency.IngestAck.Count = 20000 // every ingest-ack percentile has the samples
	base.Latency.IngestAck.P50 = 3
	cur := *base
	cur.Latency.IngestAck.P99 = 30                // +50%, +10 ms: a tail, not gated with 1 vs 1 runs
	cur.Latency.IngestAck.P50 = 4.2               // +40%: under 50%
	cur.Latency.Query.P50 = 1.8                   // +80% but < 1 ms: never a regression
	cur.Throughput.AchievedEventsPerS = 990 * 0.7 // -30%
	cur.Latency.Freshness.Max = 1e6               // maxima never regress
	c := cur.Compare(base, "base.json", GateConfig{})
	got := strings.Join(c.Regressed, ";")
	if !strings.Contains(got, "achieved_events_per_s") || strings.Contains(got, "ingest_ack") || strings.Contains(got, "query_p50") || strings.Contains(got, "freshness_max") {
		t.Fatalf("regressed %q", got)
	}
	if ng := strings.Join(c.NotGated, ";"); !strings.Contains(ng, "ingest_ack_p99: not gated: 1 vs 1 runs") {
		t.Fatalf("not gated %q", ng)
	}
	c = cur.Compare(base, "base.json", GateConfig{Effects: map[string]Effect{"ingest_ack_p50": {Rel: 0.3}}})
	if got := strings.Join(c.Regressed, ";"); !strings.Contains(got, "ingest_ack_p50") {
		t.Fatalf("regressed %q lacks ingest_ack_p50 (its tolerance 30%%)", got)
	}
	cur.EvaluateSLO(Thresholds{})
	if cur.Pass {
		t.Fatal("a regression passed")
	}
	// 5 baseline runs and 4 candidate runs: the tails are gated; the rank
	// test, the minimum effect and the baseline's spread decide.
	runs := func(p99s ...float64) []*Report {
		var out []*Report
		for _, v := range p99s {
			r := *base
			r.Latency.IngestAck.P99 = v
			out = append(out, &r)
		}
		return out
	}
	for _, tc := range []struct {
		cur  []float64
		want bool
	}{{[]float64{21, 19, 35, 22}, false}, {[]float64{40, 41, 42, 45}, true}, {[]float64{40, 41, 42, 20}, false}, {[]float64{24, 25, 26, 27}, false}} {
		c := Gate(runs(20, 21, 22, 20.5, 23), runs(tc.cur...), []string{"a", "b", "c", "d", "e"}, GateConfig{Effects: map[string]Effect{"ingest_ack_p99": {Rel: 0.1}}})
		if got := regressed(c, "ingest_ack_p99"); got != tc.want {
			t.Errorf("baseline 20..23 vs %v: regressed %v, want %v (%v %v)", tc.cur, got, tc.want, c.Regressed, c.NotGated)
		}
	}
}

func TestWriteAndRead(t *testing.T) {
	r := sample()
	r.Accuracy = Accuracy{Exact: false, MismatchedWindows: 1, WorstWindows: []WindowDiff{{Window: "10s", Type: "VIEW", Key: "k1", WantCount: 3, GotCount: 2}}}
	r.EvaluateSLO(Thresholds{AccuracyExact: true, MaxP99IngestAckMS: 100})
	dir := t.TempDir()
	if err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if back.Pass || back.Accuracy.WorstWindows[0].Key != "k1" || back.Latency.IngestAck.P99 != 20 {
		t.Fatalf("read back %+v", back)
	}
	md := r.Markdown()
	for _, want := range []string{"— FAIL", "| accuracy_exact |", "**FAIL**", "k1", "| ingest ack |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
}

func TestMarkdownFaults(t *testing.T) {
	r := sample()
	at := func(s string) *time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &tm
	}
	r.Faults = []FaultRecord{
		{Name: "kill-worker-1", Kind: "worker-crash", InjectedAt: at("2026-01-01T00:00:10Z"), HealedAt: at("2026-01-01T00:00:18Z"), HealS: 2, RecoveryS: 1.25},
		{Name: "outage", Kind: "sink-outage", InjectedAt: at("2026-01-01T00:00:10Z"), RecoveryS: -1, Error: "heal: a|b"},
	}
	md := r.Markdown()
	for _, want := range []string{
		"## Faults",
		"| kill-worker-1 | worker-crash | 2026-01-01T00:00:10Z | 2026-01-01T00:00:18Z | 2.0 | 1.2 |",
		"| outage | sink-outage | 2026-01-01T00:00:10Z |  |  | not recovered | heal: a\\|b |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(sample().Markdown(), "## Faults") {
		t.Error("a faults section without faults")
	}
}

// fakeStore holds stored windows, for the store comparison's logic (the
// real InfluxDB is read in cmd/countlab's run tests).
type fakeStore struct{ ws []oracle.Window }

func (f fakeStore) Windows(_ context.Context, from, to int64) ([]oracle.Window, error) {
	var out []oracle.Window
	for _, w := range f.ws {
		if w.Start >= from && w.Start < to {
			out = append(out, w)
		}
	}
	return out, nil
}

func TestCheckStore(t *testing.T) {
	l := testLedger()
	stored := l.Windows(oracle.ByDimSet, false)
	acc, err := Check(context.Background(), l, fakeFor(l), CheckConfig{Store: fakeStore{stored}})
	if err != nil {
		t.Fatal(err)
	}
	if !acc.Exact || acc.Store == nil || !acc.Store.Exact || acc.Store.WindowsChecked != len(stored) {
		t.Fatalf("accuracy %+v", acc)
	}
	// The store lost one event and holds a window nobody sent; the query
	// service still answers right (a cache, say).
	bad := append([]oracle.Window(nil), stored...)
	bad[0].Count--
	bad = append(bad, oracle.Window{WindowKey: oracle.WindowKey{Size: bad[0].Size, Start: bad[0].Start, Type: "VIEW", Key: "ghost"}, Total: oracle.Total{Count: 2, Sum: 2}})
	acc, err = Check(context.Background(), l, fakeFor(l), CheckConfig{Store: fakeStore{bad}})
	if err != nil {
		t.Fatal(err)
	}
	s := acc.Store
	if acc.Exact || !acc.Query.Exact || s.Exact || s.Lost != 1 || s.Duplicated != 2 || s.UnexpectedWindows != 1 || s.MismatchedWindows != 2 ||
		acc.Lost != 1 || acc.Duplicated != 2 || acc.WorstWindows[0].Source != "store" {
		t.Fatalf("accuracy %+v, store %+v", acc, s)
	}
}

func TestCheckContractMismatch(t *testing.T) {
	l := testLedger()
	l.Add(oracle.Sent{Event: &oracle.Event{ID: "z", Key: `bad\key`, Type: "VIEW", TS: 1_700_000_040_000}, Ref: 1_700_000_040_000, Acked: true})
	acc, err := Check(context.Background(), l, fakeFor(l), CheckConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if acc.Exact || !acc.Query.Exact || acc.ContractMismatches != 1 || acc.ContractMismatchExamples[0].Kind != oracle.MismatchAckedRefused {
		t.Fatalf("accuracy %+v", acc)
	}
}
