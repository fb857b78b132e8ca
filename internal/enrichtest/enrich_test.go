package enrichtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/enrich"
	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/gateway"
	"github.com/countlab/countlab/engine/influxd"
	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/oracle"
)

const (
	partitions = 4
	window     = 2 * time.Second
	lateness   = 2 * time.Second
	outOfOrder = time.Second
)

func logger() *slog.Logger {
	if os.Getenv("COUNTLAB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestMain runs a worker process when the test binary is started as one.
func TestMain(m *testing.M) {
	if os.Getenv("ENRICHTEST_WORKER") != "" {
		os.Exit(workerMain())
	}
	os.Exit(m.Run())
}

// workerMain is one engine worker with its metadata follower, until killed.
func workerMain() int {
	id := os.Getenv("ENRICHTEST_WORKER")
	conn := kafka.Conn{Brokers: []string{os.Getenv("ENRICHTEST_BROKER")}}
	log := logger()
	f, err := enrich.NewFollower(enrich.FollowConn(conn), enrich.StorePath(os.Getenv("ENRICHTEST_STORE")), enrich.FollowLogger(log))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	go f.Run(ctx)
	w, err := aggregate.New(aggregate.Conn(conn), aggregate.Logger(log), aggregate.TransactionalID("enrichtest-"+id),
		aggregate.InstanceID("enrichtest-"+id), aggregate.SessionTimeout(6*time.Second),
		aggregate.Windows(window), aggregate.AllowedLateness(lateness), aggregate.OutOfOrderness(outOfOrder),
		aggregate.IdleTimeout(time.Second), aggregate.Enrich(f, enrich.DefaultTotalsTopic, "channel"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func startWorker(t *testing.T, id int, broker, store string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ENRICHTEST_WORKER="+strconv.Itoa(id), "ENRICHTEST_BROKER="+broker, "ENRICHTEST_STORE="+store)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// TestEnrichmentExactWithWorkerCrash: 60 videos over 6 channels (Zipf),
// 20% of them known only mid-run, 12 moves, 6 renames and 4 deletions
// during 14 s of
// traffic straight to Kafka (with duplicates and disorder); worker 1 is
// SIGKILLed right after a move is acknowledged and restarted 2 s later
// on a new, empty store: rebuilt from the metadata topic (the scenario
// enrichment-short restarts its worker on its old store: resumed). Views per channel in every window, as the query
// service serves them and as InfluxDB stores them, equal the truth.
func TestEnrichmentExactWithWorkerCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	srv := influxdtest.Start(t, influxd.StartTimeout(2*time.Minute))
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	broker := kc.ListenAddrs()[0]
	conn := kafka.Conn{Brokers: []string{broker}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics := kafka.DefaultTopics("")
	if err := kafka.EnsureTopics(ctx, cl, topics, partitions, 1); err != nil {
		t.Fatal(err)
	}
	if err := enrich.EnsureTopics(ctx, cl, enrich.DefaultTopic, enrich.DefaultTotalsTopic, 2, partitions); err != nil {
		t.Fatal(err)
	}
	log := logger()
	dir := t.TempDir()
	w0 := startWorker(t, 0, broker, filepath.Join(dir, "w0.db"))
	w1 := startWorker(t, 1, broker, filepath.Join(dir, "w1.db"))
	_ = w0

	snk, err := enrich.NewSink(enrich.SinkConn(conn), enrich.SinkInflux(srv.Config()), enrich.SinkLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	defer snk.Close()
	sctx, stopSink := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); snk.Run(sctx) }()
	defer func() { stopSink(); wg.Wait() }()

	qs, err := query.New(query.Kafka(conn), query.Influx(srv.Config()), query.Windows(window), query.Types("VIEW"),
		query.MetadataTopic(enrich.DefaultTopic), query.Logger(log))
	if err != nil {
		t.Fatal(err)
	}
	defer qs.Close()
	qh := httptest.NewServer(qs)
	defer qh.Close()
	gw, err := gateway.New(gateway.Kafka(conn), gateway.Logger(log))
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	gh := httptest.NewServer(gw)
	defer gh.Close()

	truth, err := oracle.New(oracle.Config{Windows: []time.Duration{window}, Lateness: lateness, OutOfOrderness: outOfOrder, Partitions: partitions, EventTimes: true})
	if err != nil {
		t.Fatal(err)
	}
	// meta is the truth; missed is the truth less the first move, to
	// show the check notices a version the engine would have missed.
	var meta, missed oracle.Metadata
	var skipped sync.Once
	keys := make([]string, 60)
	for i := range keys {
		keys[i] = "video-" + strconv.Itoa(i)
	}
	const traffic = 14 * time.Second
	plan, err := sim.PlanMetadata(sim.EntitiesConfig{Keys: keys, Channels: 6, ZipfS: 1.1, LateShare: 0.2, LateBackdate: time.Second,
		Moves: 12, Renames: 6, Deletes: 4, Duration: traffic, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// moves are the versions acknowledged mid-run (entity, effective
	// ms): moves, renames, late first versions, deletions.
	type move struct {
		entity string
		eff    int64
	}
	var (
		movesMu sync.Mutex
		moves   []move
		deletes int
	)
	crashed := make(chan struct{})
	var crashOnce sync.Once
	ms := &sim.MetadataSender{URL: gh.URL, Acked: func(u sim.MetadataUpdate, eff int64) {
		meta.AddVersion(u.Entity, eff, u.Attrs)
		movesMu.Lock()
		if u.Attrs == nil {
			deletes++
		}
		if u.At > 0 {
			moves = append(moves, move{u.Entity, eff})
		}
		movesMu.Unlock()
		skip := false
		if u.Effective == u.At && u.At > 0 {
			skipped.Do(func() { skip = true })
		}
		if !skip {
			missed.AddVersion(u.Entity, eff, u.Attrs)
		}
		// A worker crash during the metadata updates: right after the
		// first move acknowledged past 5 s.
		if u.At > 5*time.Second && u.Effective == u.At {
			crashOnce.Do(func() { close(crashed) })
		}
	}}
	mctx, stopMeta := context.WithCancel(ctx)
	metaDone := make(chan error, 1)
	go func() { metaDone <- ms.Run(mctx, start, plan) }()
	defer stopMeta()
	go func() {
		select {
		case <-crashed:
		case <-ctx.Done():
			return
		}
		w1.Process.Kill()
		w1.Wait()
		time.Sleep(2 * time.Second)
		w1 = startWorker(t, 1, broker, filepath.Join(dir, "w1-rebuilt.db"))
	}()

	z, _ := sim.NewZipf(len(keys), 1.0)
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	times := map[string][]int64{} // each key's event times
	produce := func(k string, ts int64, now time.Time) {
		n++
		e := event.Event{ID: "e" + strconv.Itoa(n), Key: k, Type: "VIEW", Value: float64(1 + rng.IntN(5)), TS: ts}
		times[k] = append(times[k], ts)
		copies := 1
		if rng.IntN(20) == 0 {
			copies = 2 // a duplicate
		}
		for range copies {
			rec := &kgo.Record{Topic: topics.Events, Partition: kafka.Partition([]byte(k), partitions), Key: []byte(k), Value: event.AppendJSON(nil, &e), Timestamp: now}
			if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
			truth.Add(oracle.Sent{Event: sim.OracleEvent(&e, sim.JSON), Acked: true, Ref: now.UnixMilli()})
		}
	}
	for time.Since(start) < traffic {
		now := time.Now()
		for range 4 {
			produce(keys[z.Next(rng, 0)], now.UnixMilli()-int64(rng.IntN(400)), now)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := <-metaDone; err != nil {
		t.Fatal(err)
	}
	// Ticks on every partition until the last windows close.
	for until := time.Now().Add(window + lateness + outOfOrder + 2*time.Second); time.Now().Before(until); {
		now := time.Now()
		for p := range partitions {
			produce(tickKey(p), now.UnixMilli(), now)
		}
		time.Sleep(100 * time.Millisecond)
	}
	want, err := oracle.AttrWindows(truth, &meta, "channel", false)
	if err != nil {
		t.Fatal(err)
	}
	// The windows of the ticks' last seconds stay open: check those
	// ending before the last tick minus lateness and out-of-orderness.
	cut := time.Now().Add(-lateness - outOfOrder - time.Second).UnixMilli()
	// The splits: a video changed channel (moved, first known late,
	// deleted) in the middle of a closed window with events on both sides
	// of the change. The check
	// below being exact then says the engine gave the old channel the
	// events before the move and the new one those after (the truth
	// joins each event at its time).
	splits := 0
	for _, mv := range moves {
		ws := mv.eff - mv.eff%window.Milliseconds()
		from, to := meta.At(mv.entity, "channel", mv.eff-1), meta.At(mv.entity, "channel", mv.eff)
		if from == to || ws+window.Milliseconds() > cut {
			continue
		}
		var before, after int
		for _, ts := range times[mv.entity] {
			switch {
			case ts >= ws && ts < mv.eff:
				before++
			case ts >= mv.eff && ts < ws+window.Milliseconds():
				after++
			}
		}
		if before > 0 && after > 0 {
			splits++
			t.Logf("split: %s %s -> %s at +%dms of window %d: %d events before, %d after", mv.entity, from, to, mv.eff-ws, ws, before, after)
		}
	}
	if splits == 0 || deletes == 0 {
		t.Fatalf("%d windows split by a move, %d deletions: the run does not show the per-event join", splits, deletes)
	}
	var closed []oracle.AttrWindow
	unknown := int64(0)
	for _, w := range want {
		if w.Start+w.Size <= cut {
			closed = append(closed, w)
			if w.Value == oracle.UnknownValue {
				unknown += w.Count
			}
		}
	}
	qc, err := client.New(qh.URL)
	if err != nil {
		t.Fatal(err)
	}
	store := reports.NewInfluxStore(srv.Config().URL, "", srv.Config().Bucket, "")
	defer store.Close()
	res, err := reports.CheckAttrs(ctx, closed, qc, store, 40*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d attribute windows checked (%d events under %s), query %+v, store %+v", res.WindowsChecked, unknown, oracle.UnknownValue, res.Query, res.Store)
	if !res.Exact {
		t.Fatalf("not exact: %+v", res.Worst)
	}
	if unknown == 0 || len(closed) < 20 {
		t.Fatalf("too little checked: %d windows, %d unknown events", len(closed), unknown)
	}
	var wrong []oracle.AttrWindow
	wrongAll, err := oracle.AttrWindows(truth, &missed, "channel", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wrongAll {
		if w.Start+w.Size <= cut {
			wrong = append(wrong, w)
		}
	}
	if bad, err := reports.CheckAttrs(ctx, wrong, qc, store, 0); err != nil || bad.Exact || bad.Query.Mismatched == 0 || bad.Store.Mismatched == 0 {
		t.Fatalf("a truth without one move: %+v, %v; want mismatches in both sources", bad, err)
	}
	top, err := qc.AttrTop(ctx, "channel", "VIEW", time.UnixMilli(closed[0].Start), time.UnixMilli(cut), window, 3)
	if err != nil || len(top.Items) == 0 {
		t.Fatalf("top channels: %+v, %v", top, err)
	}
	t.Logf("top channels: %+v", top.Items)
	// Top-N keys carry their current attributes.
	resp, err := http.Get(qh.URL + "/v1/top?type=VIEW&n=3&window=2s&from=" + strconv.FormatInt(closed[0].Start, 10) + "&to=" + strconv.FormatInt(cut, 10))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"attrs":{"channel":"ch`) {
		t.Fatalf("top keys without attributes: %d %s", resp.StatusCode, body)
	}
	t.Logf("top keys: %s", body)
}

// tickKey is a key of canonical partition p.
func tickKey(p int) string {
	for i := 0; ; i++ {
		if k := "tick-" + strconv.Itoa(i); kafka.Partition([]byte(k), partitions) == int32(p) {
			return k
		}
	}
}
