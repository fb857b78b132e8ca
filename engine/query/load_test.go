package query_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/engine/total"
)

// loadResult is one open-model run: latencies measured from each request's
// intended send time (coordinated-omission corrected), in microseconds.
type loadResult struct {
	sent, failed int64
	hist         *hdrhistogram.Histogram
	elapsed      time.Duration
}

func (r loadResult) String() string {
	ms := func(q float64) float64 { return float64(r.hist.ValueAtQuantile(q)) / 1000 }
	return fmt.Sprintf("%d requests in %v (%.0f/s), %d failed; latency ms p50 %.3f p90 %.3f p99 %.3f p999 %.3f max %.3f",
		r.sent, r.elapsed.Round(time.Millisecond), float64(r.sent)/r.elapsed.Seconds(), r.failed,
		ms(50), ms(90), ms(99), ms(99.9), float64(r.hist.Max())/1000)
}

// openLoad sends GETs of urls (picked round-robin) at a constant rate for
// d: a fixed schedule of intended send times, handed to a pool of workers
// as each time comes; latency counts from the intended time, so a late
// send (all workers busy) still counts its wait. Each worker speaks plain
// HTTP/1.1 over its own keep-alive connection (a minimal client, so the
// generator's cost stays small next to the server's).
func openLoad(t *testing.T, urls []string, rate int, d time.Duration, workers int) loadResult {
	t.Helper()
	reqs := make([][]byte, len(urls))
	var host string
	for i, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		host = u.Host
		reqs[i] = []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: countlab-load\r\n\r\n")
	}
	n := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	type job struct {
		at  time.Time
		req []byte
	}
	jobs := make(chan job, n)
	var (
		mu     sync.Mutex
		hist   = hdrhistogram.New(1, 60_000_000, 3)
		failed atomic.Int64
		wg     sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := hdrhistogram.New(1, 60_000_000, 3)
			var rc *rawConn
			for j := range jobs {
				var err error
				if rc == nil {
					rc, err = dialRaw(host)
				}
				if err == nil {
					err = rc.get(j.req)
				}
				if err != nil {
					failed.Add(1)
					if rc != nil {
						rc.c.Close()
						rc = nil
					}
				}
				local.RecordValue(max(1, time.Since(j.at).Microseconds()))
			}
			if rc != nil {
				rc.c.Close()
			}
			mu.Lock()
			hist.Merge(local)
			mu.Unlock()
		}()
	}
	start := time.Now().Add(50 * time.Millisecond)
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 200*time.Microsecond {
			time.Sleep(w)
		}
		jobs <- job{at, reqs[i%len(reqs)]}
	}
	close(jobs)
	wg.Wait()
	return loadResult{sent: int64(n), failed: failed.Load(), hist: hist, elapsed: time.Since(start)}
}

// rawConn is a minimal HTTP/1.1 keep-alive client connection.
type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRaw(host string) (*rawConn, error) {
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &rawConn{c, bufio.NewReaderSize(c, 16<<10)}, nil
}

// get sends req and reads the whole answer; an answer other than 200 is
// an error.
func (rc *rawConn) get(req []byte) error {
	rc.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := rc.c.Write(req); err != nil {
		return err
	}
	status, err := rc.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	ok := bytes.HasPrefix(status, []byte("HTTP/1.1 200 "))
	length := -1
	for {
		line, err := rc.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if v, found := bytes.CutPrefix(line, []byte("Content-Length: ")); found {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if length < 0 {
		return errors.New("no Content-Length")
	}
	if _, err := rc.r.Discard(length); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("status %q", bytes.TrimSpace(status))
	}
	return nil
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestLoad drives the query API over loopback HTTP at a constant rate,
// mixed counts and top-N from memory, while a background writer commits
// totals to the aggregates topic, and the same load against a bare handler
// returning constant JSON. COUNTLAB_QUERY_LOAD_RATE (default 2000/s) and
// COUNTLAB_QUERY_LOAD_SECONDS (default 3) set the load;
// COUNTLAB_QUERY_LOAD_MAX_P99_MS fails the test above that p99.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short")
	}
	rate := envInt("COUNTLAB_QUERY_LOAD_RATE", 2000)
	dur := time.Duration(envInt("COUNTLAB_QUERY_LOAD_SECONDS", 3)) * time.Second
	conn, topics := startKafka(t)
	p := newProducer(t, conn, topics.Aggregates)

	const keys, windows = 500, 30
	now := time.Now()
	cur := total.WindowStart(now.UnixMilli(), size)
	rng := rand.New(rand.NewPCG(2, 3))
	mk := func(typ string, k int, start int64) total.Total {
		c := int64(1 + rng.IntN(100))
		return total.Total{Key: "key" + strconv.Itoa(k), Type: typ, DimSet: dimSets[k%len(dimSets)], Sub: k % partitions,
			Start: start, Size: size, Count: c, Sum: float64(c), Min: 1, Max: 1}
	}
	var batch []total.Total
	for w := range windows {
		for _, typ := range types {
			for k := range keys {
				batch = append(batch, mk(typ, k, cur-int64(windows-1-w)*size))
			}
		}
		if len(batch) >= 5000 {
			p.txn(true, batch...)
			batch = batch[:0]
		}
	}
	p.txn(true, batch...)

	srv, _, base := serve(t, query.Kafka(conn), query.Topic(topics.Aggregates), query.Logger(discardLogger()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}

	// Background writer: like the aggregator, a transaction every 100 ms
	// updating 200 keys of the current window (2,000 totals/s).
	stop := make(chan struct{})
	var wwg sync.WaitGroup
	var written atomic.Int64
	writer := os.Getenv("COUNTLAB_QUERY_LOAD_WRITER") != "0"
	wwg.Add(1)
	go func() {
		defer wwg.Done()
		if !writer {
			return
		}
		wrng := rand.New(rand.NewPCG(4, 5))
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			start := total.WindowStart(time.Now().UnixMilli(), size)
			ts := make([]total.Total, 200)
			for i := range ts {
				ts[i] = mk(types[wrng.IntN(len(types))], wrng.IntN(keys), start)
				ts[i].Count += 1000
			}
			p.txn(true, ts...)
			written.Add(int64(len(ts)))
		}
	}()

	// The mix: 70% counts (5 min or 30 min, some filtered), 30% top-10.
	var urls []string
	for i := range 1000 {
		q := url.Values{"type": {types[i%len(types)]}}
		if i%3 == 0 {
			q.Set("from", strconv.FormatInt(now.Add(-30*time.Minute).UnixMilli(), 10))
		} else {
			q.Set("from", strconv.FormatInt(now.Add(-5*time.Minute).UnixMilli(), 10))
		}
		q.Set("to", strconv.FormatInt(now.Add(time.Minute).UnixMilli(), 10))
		if i%5 == 0 {
			q.Set("filter", "country:US")
		}
		if i%10 < 7 {
			urls = append(urls, base+"/v1/counts/key"+strconv.Itoa(rng.IntN(keys))+"?"+q.Encode())
		} else {
			q.Set("n", "10")
			urls = append(urls, base+"/v1/top?"+q.Encode())
		}
	}
	workers := max(32, rate/200)
	res := openLoad(t, urls, rate, dur, workers)
	close(stop)
	wwg.Wait()
	t.Logf("query API at %d/s for %v, %d totals written meanwhile: %v", rate, dur, written.Load(), res)
	if os.Getenv("COUNTLAB_QUERY_LOAD_METRICS") == "1" {
		for _, line := range strings.Split(get(t, base+"/metrics", ""), "\n") {
			if strings.HasPrefix(line, "countlab_query_request_duration_seconds_bucket") || strings.HasPrefix(line, "countlab_query_cache") ||
				strings.HasPrefix(line, "go_gc_duration_seconds") {
				t.Log(line)
			}
		}
	}

	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"key":"k","type":"VIEW","count":42}`+"\n")
	}))
	defer bare.Close()
	bres := openLoad(t, []string{bare.URL + "/"}, rate, dur, workers)
	t.Logf("bare handler at %d/s for %v: %v", rate, dur, bres)

	if res.failed > 0 {
		t.Errorf("%d query requests failed", res.failed)
	}
	if maxP99 := envInt("COUNTLAB_QUERY_LOAD_MAX_P99_MS", 0); maxP99 > 0 {
		if p99 := res.hist.ValueAtQuantile(99); p99 > int64(maxP99)*1000 {
			t.Errorf("p99 %.3f ms above %d ms", float64(p99)/1000, maxP99)
		}
	}
}
