// Command naive-counter is a small, deliberately ordinary counting
// pipeline, the kind many teams write first, and a system under test for
// countlab (examples/naive-counter/target.yaml): it was not written by the
// engine's authors and imports nothing of countlab.
//
// A franz-go consumer in a consumer group with auto-committed offsets
// (franz-go's default: every 5 s, the offsets of what earlier polls
// returned) reads JSON events from a Kafka topic, drops repeats of an
// (key, id) it has seen since it started, and counts in memory per (key,
// type, tumbling window): count and sum of the values. Every second it
// writes the absolute totals of the windows that changed to InfluxDB 1.x
// (line protocol over HTTP): measurement counts, tags key, type and win
// ("10s"), fields count and sum, time = the window's start. Run several
// in one group to scale out: when partitions move, the old owner writes
// its totals and commits first, and the new owner reads the totals back
// from InfluxDB and carries on from them (as it does on start).
//
// Nothing ties the offsets to the totals: killed with SIGKILL, it restarts
// from the last committed offsets while InfluxDB already holds the totals
// of up to 5 s of events after them, so those events are counted twice
// (and totals of events whose offsets were committed but that were never
// written are lost). Its dedup set is in memory too: repeats across a
// restart count again. countlab's worker-crash scenario shows the double
// counts per window.
//
//	naive-counter --brokers 127.0.0.1:19092 --topic events --group naive-counter \
//	    --influx-url http://127.0.0.1:18086 --db naive --windows 10s
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// window is one counted window.
type window struct {
	key, typ string
	size     time.Duration
	start    int64 // unix ms
}

type total struct {
	count int64
	sum   float64
}

// event is the part of an event the counter reads.
type event struct {
	ID    string          `json:"id"`
	Key   string          `json:"key"`
	Type  string          `json:"type"`
	Value *float64        `json:"value"`
	TS    json.RawMessage `json:"ts"`
}

// tsMillis reads ts: unix ms or an RFC 3339 string.
func (e *event) tsMillis() (int64, error) {
	var ms float64
	if err := json.Unmarshal(e.TS, &ms); err == nil {
		return int64(ms), nil
	}
	var s string
	if err := json.Unmarshal(e.TS, &s); err != nil {
		return 0, fmt.Errorf("ts %s", e.TS)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return t.UnixMilli(), nil
}

type counter struct {
	influx  string
	db      string
	windows []time.Duration
	http    *http.Client

	// mu guards the maps: the rebalance callbacks run on the client's
	// goroutine.
	mu     sync.Mutex
	totals map[window]*total
	dirty  map[window]bool
	seen   map[[2]string]bool
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "Kafka seed brokers, comma-separated")
	topic := flag.String("topic", "events", "topic of the events")
	group := flag.String("group", "naive-counter", "consumer group")
	influx := flag.String("influx-url", "http://127.0.0.1:8086", "InfluxDB 1.x base URL")
	db := flag.String("db", "naive", "InfluxDB database (created if missing)")
	wins := flag.String("windows", "10s", "tumbling window sizes, comma-separated")
	flush := flag.Duration("flush", time.Second, "how often the changed totals are written")
	session := flag.Duration("session-timeout", 10*time.Second, "consumer-group session timeout")
	flag.Parse()
	c := &counter{influx: strings.TrimSuffix(*influx, "/"), db: *db, http: &http.Client{Timeout: 10 * time.Second},
		totals: map[window]*total{}, dirty: map[window]bool{}, seen: map[[2]string]bool{}}
	for _, w := range strings.Split(*wins, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(w))
		if err != nil || d <= 0 {
			log.Fatalf("--windows: %q is not a duration", w)
		}
		c.windows = append(c.windows, d)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := c.run(ctx, strings.Split(*brokers, ","), *topic, *group, *flush, *session); err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}

func (c *counter) run(ctx context.Context, brokers []string, topic, group string, flush, session time.Duration) error {
	if err := c.query(ctx, "CREATE DATABASE "+strconv.Quote(c.db), nil); err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SessionTimeout(session),
		kgo.BlockRebalanceOnPoll(),
		// A partition moving between instances: the old owner writes its
		// totals and commits before it lets go, the new one reads the
		// totals back before it counts on.
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, _ map[string][]int32) {
			if err := c.write(ctx); err != nil {
				log.Printf("write on revoke: %v", err)
			}
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				log.Printf("commit on revoke: %v", err)
			}
		}),
		kgo.OnPartitionsAssigned(func(ctx context.Context, _ *kgo.Client, _ map[string][]int32) {
			if err := c.restore(ctx); err != nil {
				log.Printf("restore on assign: %v", err)
			}
		}))
	if err != nil {
		return err
	}
	defer cl.Close() // a clean stop writes and commits (OnPartitionsRevoked)
	log.Printf("naive-counter: consuming %s as %s", topic, group)
	tick := time.NewTicker(flush)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, flush)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			cl.AllowRebalance()
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				log.Printf("fetch %s/%d: %v", t, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { c.count(r.Value) })
		select {
		case <-tick.C:
			if err := c.write(ctx); err != nil {
				log.Printf("write: %v", err) // kept dirty: written at the next tick
			}
		default:
		}
		cl.AllowRebalance()
	}
}

// count adds one event to its windows; malformed ones are skipped.
func (c *counter) count(value []byte) {
	var e event
	if err := json.Unmarshal(value, &e); err != nil || e.Key == "" || e.ID == "" || e.Type == "" {
		return
	}
	ts, err := e.tsMillis()
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	id := [2]string{e.Key, e.ID}
	if c.seen[id] {
		return
	}
	c.seen[id] = true
	v := 1.0
	if e.Value != nil {
		v = *e.Value
	}
	for _, size := range c.windows {
		ms := size.Milliseconds()
		w := window{key: e.Key, typ: e.Type, size: size, start: ts - ((ts%ms)+ms)%ms}
		t := c.totals[w]
		if t == nil {
			t = &total{}
			c.totals[w] = t
		}
		t.count++
		t.sum += v
		c.dirty[w] = true
	}
}

// tagEscape escapes a line-protocol tag value.
var tagEscape = strings.NewReplacer(",", `\,`, " ", `\ `, "=", `\=`)

// write writes the totals of the changed windows.
func (c *counter) write(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.dirty) == 0 {
		return nil
	}
	var b bytes.Buffer
	for w := range c.dirty {
		t := c.totals[w]
		fmt.Fprintf(&b, "counts,key=%s,type=%s,win=%s count=%di,sum=%s %d\n", tagEscape.Replace(w.key), tagEscape.Replace(w.typ),
			w.size, t.count, strconv.FormatFloat(t.sum, 'g', -1, 64), w.start)
	}
	u := c.influx + "/write?" + url.Values{"db": {c.db}, "precision": {"ms"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, &b)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("influxdb write: %d: %s", resp.StatusCode, msg)
	}
	clear(c.dirty)
	return nil
}

// restore reads the last day's totals back from InfluxDB (the unwritten
// ones first written).
func (c *counter) restore(ctx context.Context) error {
	var ans struct {
		Results []struct {
			Series []struct {
				Columns []string `json:"columns"`
				Values  [][]any  `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := c.write(ctx); err != nil {
		return err
	}
	q := `SELECT "count","sum","key","type","win" FROM counts WHERE time > now() - 1d`
	if err := c.query(ctx, q, &ans); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range ans.Results {
		for _, s := range r.Series {
			col := map[string]int{}
			for i, n := range s.Columns {
				col[n] = i
			}
			for _, row := range s.Values {
				size, err := time.ParseDuration(fmt.Sprint(row[col["win"]]))
				if err != nil {
					continue
				}
				num := func(n string) float64 { f, _ := row[col[n]].(json.Number).Float64(); return f }
				w := window{key: fmt.Sprint(row[col["key"]]), typ: fmt.Sprint(row[col["type"]]), size: size, start: int64(num("time"))}
				c.totals[w] = &total{count: int64(math.Round(num("count"))), sum: num("sum")}
			}
		}
	}
	return nil
}

// query runs an InfluxQL statement; out, when set, gets the answer.
func (c *counter) query(ctx context.Context, q string, out any) error {
	v := url.Values{"db": {c.db}, "q": {q}, "epoch": {"ms"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.influx+"/query", strings.NewReader(v.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("influxdb query: %d: %s", resp.StatusCode, msg)
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	return dec.Decode(out)
}
