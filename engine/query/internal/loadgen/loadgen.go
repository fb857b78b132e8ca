// Package loadgen is an open-model (constant-arrival-rate) HTTP load
// generator for the query service's benchmark. It runs in its own process
// (Main, started by the benchmark re-executing its test binary) so that it
// does not share the server's Go scheduler, heap or GC.
//
// The schedule is fixed in advance: request i is due at start + i/rate.
// A dispatcher hands each request to a pool of workers when it comes due;
// each worker owns one keep-alive HTTP/1.1 connection. Latency counts from
// the intended send time, not from when a worker got to it, so a request
// delayed by a busy pool or a slow server still counts its wait
// (coordinated omission corrected). Latencies go into an HdrHistogram.
//
// A run is bounded in count (Rate*Duration, at most MaxRequests) and in
// time (Duration plus a drain deadline), and only targets 127.0.0.1.
package loadgen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Limits of one run.
const (
	MaxRequests = 5_000_000
	MaxDuration = 5 * time.Minute
	drainGrace  = 10 * time.Second
)

// Config is one run.
type Config struct {
	// URLs are requested in turn (request i gets URLs[i%len]); every one
	// must be http://127.0.0.1:PORT/...
	URLs []string `json:"urls"`
	// Rate is the number of requests per second.
	Rate int `json:"rate"`
	// Duration is how long requests are started for.
	Duration time.Duration `json:"duration"`
	// Conns is the number of keep-alive connections (and workers).
	Conns int `json:"conns"`
	// Header is added to every request ("Name: value"), optional.
	Header string `json:"header,omitempty"`
}

func (c *Config) validate() error {
	if len(c.URLs) == 0 {
		return errors.New("loadgen: no URLs")
	}
	if c.Rate <= 0 || c.Duration <= 0 || c.Duration > MaxDuration {
		return fmt.Errorf("loadgen: want rate > 0 and 0 < duration <= %v, got %d/s for %v", MaxDuration, c.Rate, c.Duration)
	}
	if n := float64(c.Rate) * c.Duration.Seconds(); n > MaxRequests {
		return fmt.Errorf("loadgen: %.0f requests is more than the maximum %d", n, MaxRequests)
	}
	if c.Conns < 1 || c.Conns > 4096 {
		return fmt.Errorf("loadgen: conns must be in [1, 4096], got %d", c.Conns)
	}
	return nil
}

// Result is what a run measured. Latencies are microseconds from each
// request's intended send time.
type Result struct {
	Target   int           `json:"target_rate"`
	Sent     int64         `json:"sent"`
	OK       int64         `json:"ok"`
	Failed   int64         `json:"failed"`
	Elapsed  time.Duration `json:"elapsed"` // first intended send to last answer
	Achieved float64       `json:"achieved_rate"`
	// Snapshot is the HdrHistogram of latencies (µs).
	Snapshot *hdrhistogram.Snapshot `json:"histogram"`
	FirstErr string                 `json:"first_error,omitempty"`
}

// Hist is the latency histogram (µs).
func (r *Result) Hist() *hdrhistogram.Histogram { return hdrhistogram.Import(r.Snapshot) }

// Quantile is the latency at q (0-100) in milliseconds.
func (r *Result) Quantile(q float64) float64 {
	return float64(r.Hist().ValueAtQuantile(q)) / 1000
}

// MaxMs is the largest latency in milliseconds.
func (r *Result) MaxMs() float64 { return float64(r.Hist().Max()) / 1000 }

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, 120_000_000, 3) }

// Run runs c in this process.
func Run(c Config) (*Result, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	var host string
	reqs := make([][]byte, len(c.URLs))
	for i, raw := range c.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, err
		}
		if u.Scheme != "http" || u.Hostname() != "127.0.0.1" {
			return nil, fmt.Errorf("loadgen: only http://127.0.0.1 is a target, got %q", raw)
		}
		if host != "" && u.Host != host {
			return nil, errors.New("loadgen: every URL must name the same host:port")
		}
		host = u.Host
		h := ""
		if c.Header != "" {
			h = c.Header + "\r\n"
		}
		reqs[i] = []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: countlab-loadgen\r\n" + h + "\r\n")
	}
	n := int(float64(c.Rate) * c.Duration.Seconds())
	interval := float64(time.Second) / float64(c.Rate)

	conns := make([]*rawConn, c.Conns)
	for i := range conns { // dial before the clock starts
		rc, err := dialRaw(host)
		if err != nil {
			return nil, err
		}
		conns[i] = rc
	}
	jobs := make(chan int, n)
	var (
		mu       sync.Mutex
		hist     = newHist()
		ok, fail atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	start := time.Now().Add(20 * time.Millisecond)
	deadline := start.Add(c.Duration + drainGrace)
	due := func(i int) time.Time { return start.Add(time.Duration(float64(i) * interval)) }
	for _, rc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := newHist()
			for i := range jobs {
				at := due(i)
				err := errTimeout
				if time.Now().Before(deadline) {
					if rc == nil {
						rc, err = dialRaw(host)
					}
					if rc != nil {
						err = rc.get(reqs[i%len(reqs)], deadline)
					}
				}
				if err != nil {
					fail.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					if rc != nil {
						rc.c.Close()
						rc = nil
					}
				} else {
					ok.Add(1)
				}
				local.RecordValue(max(1, time.Since(at).Microseconds()))
			}
			if rc != nil {
				rc.c.Close()
			}
			mu.Lock()
			hist.Merge(local)
			mu.Unlock()
		}()
	}
	for i := range n {
		if w := time.Until(due(i)); w > 100*time.Microsecond {
			time.Sleep(w)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	r := &Result{Target: c.Rate, Sent: int64(n), OK: ok.Load(), Failed: fail.Load(), Elapsed: elapsed,
		Achieved: float64(ok.Load()) / elapsed.Seconds(), Snapshot: hist.Export()}
	if e, _ := firstErr.Load().(string); e != "" {
		r.FirstErr = e
	}
	return r, nil
}

var errTimeout = errors.New("loadgen: run deadline passed before the request was sent")

// rawConn is a minimal HTTP/1.1 keep-alive client connection: the
// generator's own cost stays small next to the server's.
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
func (rc *rawConn) get(req []byte, deadline time.Time) error {
	rc.c.SetDeadline(deadline)
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
		if len(line) > 16 && (line[0] == 'C' || line[0] == 'c') && bytes.EqualFold(line[:16], []byte("Content-Length: ")) {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(line[16:])))
		}
	}
	if length < 0 {
		return errors.New("loadgen: answer without Content-Length")
	}
	if _, err := rc.r.Discard(length); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("loadgen: status %q", bytes.TrimSpace(status))
	}
	return nil
}

// EnvVar, set to "1", makes a test binary's TestMain call Main instead of
// running tests.
const EnvVar = "COUNTLAB_LOADGEN"

// Main reads a Config as JSON from stdin, runs it and writes the Result as
// JSON to stdout; it exits non-zero on error.
func Main() {
	code := 0
	if err := mainErr(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func mainErr(in io.Reader, out io.Writer) error {
	var c Config
	if err := json.NewDecoder(in).Decode(&c); err != nil {
		return fmt.Errorf("loadgen: config: %w", err)
	}
	r, err := Run(c)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(r)
}
