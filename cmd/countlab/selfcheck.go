package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/engine/reconcile"
	"github.com/countlab/countlab/engine/total"
)

// cmdSelfcheck starts the embedded stack, sends a small seeded workload
// through the ingest gateway (with duplicates, out-of-order and malformed
// events), and checks every window the query service and InfluxDB serve
// against a ledger of what the gateway acknowledged, with exact equality.
func cmdSelfcheck(ctx context.Context, args []string) error {
	fs := newFlagSet("selfcheck")
	var sf stackFlags
	sf.register(fs, false)
	events := fs.Int("events", 20000, "distinct events to send")
	keys := fs.Int("keys", 40, "counted keys")
	dupFrac := fs.Float64("duplicates", 0.1, "fraction of events sent twice (same id)")
	badFrac := fs.Float64("malformed", 0.01, "fraction of extra malformed events")
	seed := fs.Uint64("seed", 1, "random seed")
	timeout := fs.Duration("timeout", 90*time.Second, "how long to wait for the pipeline to drain")
	if err := sf.parse(fs, args); err != nil {
		return err
	}
	if *events < 1 || *keys < 1 || *dupFrac < 0 || *dupFrac > 1 || *badFrac < 0 || *badFrac > 1 {
		return usagef("--events and --keys must be >= 1; --duplicates and --malformed in [0,1]")
	}
	out := os.Stdout
	log := sf.logger(os.Stderr)

	fmt.Fprintln(out, "countlab selfcheck: starting the embedded stack (broker, influxd, engine, sink, query, gateway)...")
	start := time.Now()
	st, err := startStack(ctx, &sf, log)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(out, "  stack up in %.1fs: broker %s, influxdb %s, gateway http://%s, query http://%s\n",
		time.Since(start).Seconds(), st.conn.String(), st.influx.URL, st.gwAddr, st.qAddr)

	w := newSelfcheckWorkload(*seed, *events, *keys, *dupFrac, *badFrac, st.windows[0])
	fmt.Fprintf(out, "  sending %d events (%d distinct, %d duplicates, %d malformed) in batches of %d...\n",
		len(w.sends), *events, w.dups, w.bad, selfcheckBatch)
	sendStart := time.Now()
	sent, err := w.send(ctx, "http://"+st.gwAddr)
	if err != nil {
		return err
	}
	sendDur := time.Since(sendStart)
	fmt.Fprintf(out, "  gateway acknowledged %d, rejected %d as malformed, in %.2fs (%.0f events/s)\n",
		sent.accepted, sent.rejected, sendDur.Seconds(), float64(sent.accepted+sent.rejected)/sendDur.Seconds())

	token, _ := tokenFromEnv()
	qc, err := client.New("http://"+st.qAddr, client.Token(token))
	if err != nil {
		return err
	}
	var checks []checkResult
	checks = append(checks, checkResult{"malformed events rejected", sent.rejected == int64(w.bad),
		fmt.Sprintf("%d of %d", sent.rejected, w.bad)})

	drainStart := time.Now()
	mismatch, err := w.ledger.waitQuery(ctx, qc, *timeout)
	if err != nil {
		return err
	}
	checks = append(checks, checkResult{"every window's count and sum (query API vs ledger)", mismatch == "",
		orText(mismatch, fmt.Sprintf("%d windows exact, visible %.2fs after the last ack", w.ledger.windows(), time.Since(drainStart).Seconds()))})
	if mismatch == "" {
		checks = append(checks, w.ledger.checkFilters(ctx, qc), w.ledger.checkTop(ctx, qc))
	}

	res, err := w.ledger.waitInflux(ctx, st, *timeout)
	if err != nil {
		return err
	}
	checks = append(checks, checkResult{"InfluxDB holds exactly the recounted totals (reconcile --dry-run)",
		res.WindowsDiffering == 0 && res.WindowsMissing == 0 && res.WindowsExtra == 0 && res.EventsCounted == int64(*events),
		fmt.Sprintf("%d distinct events recounted from Kafka (ledger: %d); %d windows checked, %d differing, %d missing, %d extra; %d duplicates removed",
			res.EventsCounted, *events, res.WindowsChecked, res.WindowsDiffering, res.WindowsMissing, res.WindowsExtra, res.Duplicates)})
	if err := st.firstErr(); err != nil {
		checks = append(checks, checkResult{"no part of the pipeline failed", false, err.Error()})
	}

	pass := true
	fmt.Fprintln(out, "\nchecks:")
	for _, c := range checks {
		mark := "PASS"
		if !c.ok {
			mark, pass = "FAIL", false
		}
		fmt.Fprintf(out, "  %s  %s: %s\n", mark, c.name, c.detail)
	}
	if !pass {
		fmt.Fprintln(out, "\nverdict: FAIL")
		return exitError{1, errors.New("selfcheck failed")}
	}
	fmt.Fprintf(out, "\nverdict: PASS — %d acknowledged events counted exactly once (0 lost, 0 double-counted), in %.1fs\n",
		sent.accepted-int64(w.dups), time.Since(start).Seconds())
	return nil
}

type checkResult struct {
	name   string
	ok     bool
	detail string
}

func orText(s, alt string) string {
	if s != "" {
		return s
	}
	return alt
}

const selfcheckBatch = 500

// selfcheckWorkload is the events to send, in order, and the ledger of the
// distinct valid ones.
type selfcheckWorkload struct {
	sends  [][]byte // JSON objects, one per send
	dups   int
	bad    int
	ledger *miniLedger
}

var selfcheckCountries = []string{"US", "DE", "IN", "BR"}

func newSelfcheckWorkload(seed uint64, n, keys int, dupFrac, badFrac float64, window time.Duration) *selfcheckWorkload {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(keys-1))
	w := &selfcheckWorkload{ledger: newMiniLedger(window.Milliseconds())}
	now := time.Now().UnixMilli()
	// Event times run over the last 8 s, with up to 3 s of jitter, and the
	// sends are shuffled: on any partition an event arrives at most 11 s
	// behind the newest one before it. That is inside the engine's default
	// tolerance (5 s out-of-orderness + 15 s allowed lateness) even when an
	// idle partition's watermark was raised to its neighbours', so every
	// event counts in its window and none is too late.
	var valid [][]byte
	for i := 0; i < n; i++ {
		e := event.Event{
			ID:    "sc-" + strconv.FormatUint(seed, 10) + "-" + strconv.Itoa(i),
			Key:   "video-" + strconv.FormatUint(zipf.Uint64(), 10),
			Type:  []string{"VIEW", "VIEW", "VIEW", "CLICK"}[rng.IntN(4)],
			Value: float64(1 + rng.IntN(300)),
			TS:    now - 8_000 + int64(i)*8_000/int64(n) - rng.Int64N(3000),
			Dims:  []event.Dim{{Name: "country", Value: selfcheckCountries[rng.IntN(len(selfcheckCountries))]}},
		}
		b := event.AppendJSON(nil, &e)
		valid = append(valid, b)
		w.sends = append(w.sends, b)
		w.ledger.add(&e)
	}
	for i := 0; i < int(float64(n)*dupFrac); i++ {
		w.sends = append(w.sends, valid[rng.IntN(len(valid))])
		w.dups++
	}
	malformed := []string{
		`{"id":"bad-%d","key":"video-1","type":"VIEW","ts":"yesterday"}`,
		`{"id":"bad-%d","key":"video-1","type":"NOPE","ts":1}`,
		`{"id":"bad-%d","type":"VIEW","ts":1}`,
		`{"id":"bad-%d","key":"video-1","type":"VIEW","ts":1,"value":"x"}`,
	}
	for i := 0; i < int(float64(n)*badFrac); i++ {
		w.sends = append(w.sends, fmt.Appendf(nil, malformed[i%len(malformed)], i))
		w.bad++
	}
	rng.Shuffle(len(w.sends), func(i, j int) { w.sends[i], w.sends[j] = w.sends[j], w.sends[i] })
	return w
}

type sendResult struct{ accepted, rejected int64 }

// send posts the events in batches over 4 connections and counts the
// gateway's per-event answers. A batch the gateway could not hand to Kafka
// (429, 503) is sent again: re-sending is safe, dedup is by event id.
func (w *selfcheckWorkload) send(ctx context.Context, base string) (sendResult, error) {
	token, _ := tokenFromEnv()
	batches := make(chan [][]byte)
	var (
		mu     sync.Mutex
		res    sendResult
		errs   []error
		wg     sync.WaitGroup
		client = &http.Client{Timeout: 30 * time.Second}
	)
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				acc, rej, err := postBatch(ctx, client, base, token, b)
				mu.Lock()
				res.accepted += acc
				res.rejected += rej
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < len(w.sends); i += selfcheckBatch {
		batches <- w.sends[i:min(i+selfcheckBatch, len(w.sends))]
	}
	close(batches)
	wg.Wait()
	return res, errors.Join(errs...)
}

func postBatch(ctx context.Context, hc *http.Client, base, token string, batch [][]byte) (accepted, rejected int64, err error) {
	body := append([]byte{'['}, bytes.Join(batch, []byte{','})...)
	body = append(body, ']')
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/events", bytes.NewReader(body))
		if err != nil {
			return 0, 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, 0, err
		}
		var r struct {
			Accepted int64  `json:"accepted"`
			Rejected int64  `json:"rejected"`
			Failed   int64  `json:"failed"`
			Error    string `json:"error"`
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_ = json.Unmarshal(raw, &r)
		switch resp.StatusCode {
		case http.StatusOK, http.StatusMultiStatus, http.StatusBadRequest:
			if resp.StatusCode == http.StatusBadRequest && r.Rejected == 0 {
				return 0, 0, fmt.Errorf("gateway: 400: %s", raw)
			}
			return r.Accepted, r.Rejected, nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			if attempt >= 20 {
				return 0, 0, fmt.Errorf("gateway: %d after %d attempts: %s", resp.StatusCode, attempt+1, raw)
			}
			select {
			case <-ctx.Done():
				return 0, 0, ctx.Err()
			case <-time.After(time.Duration(100*(attempt+1)) * time.Millisecond):
			}
		default:
			return 0, 0, fmt.Errorf("gateway: %d: %s", resp.StatusCode, raw)
		}
	}
}

// miniLedger is the ground truth of the selfcheck: per (type, key, window)
// and per (type, key, country, window), the count and sum of distinct events.
type miniLedger struct {
	size   int64
	byKey  map[ledgerKey]*total.Total
	byDim  map[ledgerKey]*total.Total
	minWin int64
	maxWin int64
}

type ledgerKey struct {
	typ, key, country string
	win               int64
}

func newMiniLedger(size int64) *miniLedger {
	return &miniLedger{size: size, byKey: map[ledgerKey]*total.Total{}, byDim: map[ledgerKey]*total.Total{}, minWin: 1<<63 - 1}
}

func (l *miniLedger) add(e *event.Event) {
	win := total.WindowStart(e.TS, l.size)
	l.minWin, l.maxWin = min(l.minWin, win), max(l.maxWin, win)
	country, _ := e.Dim("country")
	for m, k := range map[*map[ledgerKey]*total.Total]ledgerKey{
		&l.byKey: {e.Type, e.Key, "", win},
		&l.byDim: {e.Type, e.Key, country, win},
	} {
		t := (*m)[k]
		if t == nil {
			t = &total.Total{}
			(*m)[k] = t
		}
		t.Add(e.Value)
	}
}

func (l *miniLedger) windows() int { return len(l.byKey) }

func (l *miniLedger) window(win int64) client.Range {
	return client.Range{From: time.UnixMilli(win), To: time.UnixMilli(win + l.size), Window: time.Duration(l.size) * time.Millisecond}
}

// sortedKeys returns m's keys in a stable order.
func sortedKeys(m map[ledgerKey]*total.Total) []ledgerKey {
	ks := make([]ledgerKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		a, b := ks[i], ks[j]
		if a.win != b.win {
			return a.win < b.win
		}
		if a.typ != b.typ {
			return a.typ < b.typ
		}
		if a.key != b.key {
			return a.key < b.key
		}
		return a.country < b.country
	})
	return ks
}

// compareQuery checks every (type, key, window) count and sum; it returns
// the first mismatch, or "".
func (l *miniLedger) compareQuery(ctx context.Context, qc *client.Client) (string, error) {
	for _, k := range sortedKeys(l.byKey) {
		want := l.byKey[k]
		r := l.window(k.win)
		r.Type = k.typ
		got, err := qc.Stats(ctx, client.StatsRequest{Key: k.key, Fn: "sum", Range: r})
		if err != nil {
			return "", err
		}
		if got.Count != want.Count || got.Value != want.Sum {
			return fmt.Sprintf("window %s %s %s: count %d sum %g, want count %d sum %g",
				time.UnixMilli(k.win).UTC().Format(time.RFC3339), k.typ, k.key, got.Count, got.Value, want.Count, want.Sum), nil
		}
	}
	return "", nil
}

// waitQuery polls until every window matches or the timeout passes, and
// returns the last mismatch ("" when everything matched).
func (l *miniLedger) waitQuery(ctx context.Context, qc *client.Client, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		mismatch, err := l.compareQuery(ctx, qc)
		if err != nil && !client.IsUnavailable(err) {
			return "", err
		}
		if err == nil && mismatch == "" {
			return "", nil
		}
		if time.Now().After(deadline) {
			if mismatch == "" {
				mismatch = err.Error()
			}
			return "after " + timeout.String() + ": " + mismatch, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (l *miniLedger) checkFilters(ctx context.Context, qc *client.Client) checkResult {
	name := "every window's count per country (filter=country:X)"
	for _, k := range sortedKeys(l.byDim) {
		r := l.window(k.win)
		r.Type, r.Filter = k.typ, map[string]string{"country": k.country}
		got, err := qc.Count(ctx, client.CountRequest{Key: k.key, Range: r})
		if err != nil {
			return checkResult{name, false, err.Error()}
		}
		if want := l.byDim[k].Count; got.Count != want {
			return checkResult{name, false, fmt.Sprintf("%s %s country=%s window %d: got %d, want %d", k.typ, k.key, k.country, k.win, got.Count, want)}
		}
	}
	return checkResult{name, true, fmt.Sprintf("%d (key, country, window) counts exact", len(l.byDim))}
}

func (l *miniLedger) checkTop(ctx context.Context, qc *client.Client) checkResult {
	name := "top-10 VIEW keys over the whole run"
	sums := map[string]int64{}
	for k, t := range l.byKey {
		if k.typ == "VIEW" {
			sums[k.key] += t.Count
		}
	}
	want := make([]client.TopItem, 0, len(sums))
	for k, c := range sums {
		want = append(want, client.TopItem{Key: k, Count: c})
	}
	sort.Slice(want, func(i, j int) bool {
		if want[i].Count != want[j].Count {
			return want[i].Count > want[j].Count
		}
		return want[i].Key < want[j].Key
	})
	want = want[:min(10, len(want))]
	got, err := qc.Top(ctx, client.TopRequest{N: 10, Range: client.Range{Type: "VIEW",
		From: time.UnixMilli(l.minWin), To: time.UnixMilli(l.maxWin + l.size), Window: time.Duration(l.size) * time.Millisecond}})
	if err != nil {
		return checkResult{name, false, err.Error()}
	}
	if len(got.Items) != len(want) {
		return checkResult{name, false, fmt.Sprintf("got %d items, want %d", len(got.Items), len(want))}
	}
	for i := range want {
		if got.Items[i] != want[i] {
			return checkResult{name, false, fmt.Sprintf("rank %d: got %s=%d, want %s=%d", i+1, got.Items[i].Key, got.Items[i].Count, want[i].Key, want[i].Count)}
		}
	}
	return checkResult{name, got.Exact, fmt.Sprintf("exact=%v, #1 %s with %d", got.Exact, want[0].Key, want[0].Count)}
}

// waitInflux recounts the raw events topic and compares with InfluxDB (a
// dry-run reconcile) until nothing differs or the timeout passes: the sink
// writes asynchronously.
func (l *miniLedger) waitInflux(ctx context.Context, st *stack, timeout time.Duration) (reconcile.Result, error) {
	deadline := time.Now().Add(timeout)
	for {
		res, err := reconcile.Run(ctx, reconcile.Config{
			Kafka:   st.conn,
			Topics:  st.topics,
			Influx:  st.influx,
			From:    time.UnixMilli(l.minWin),
			To:      time.UnixMilli(l.maxWin + l.size),
			Windows: st.windows,
			DryRun:  true,
			Idle:    2 * time.Second,
		})
		if err != nil {
			return res, err
		}
		if (res.WindowsDiffering == 0 && res.WindowsMissing == 0 && res.WindowsExtra == 0) || time.Now().After(deadline) {
			return res, nil
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
