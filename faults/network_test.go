package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// netTarget is a fakeTarget with network proxies and a sink error proxy.
type netTarget struct {
	fakeTarget
	links map[string][]*toxiproxy.Proxy
	ep    *ErrorProxy
}

func (n *netTarget) LinkProxies(link string) ([]*toxiproxy.Proxy, error) {
	ps, ok := n.links[link]
	if !ok {
		return nil, fmt.Errorf("no link %s", link)
	}
	return ps, nil
}

func (n *netTarget) SinkErrorProxy() (*ErrorProxy, error) { return n.ep, nil }

func TestNetworkParams(t *testing.T) {
	f := func(kind string, params map[string]any, want string) {
		t.Helper()
		err := Spec{Kind: kind, Duration: time.Second, Params: params}.Validate()
		switch {
		case want == "" && err != nil:
			t.Errorf("%s %v: %v", kind, params, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s %v: got %v, want an error with %q", kind, params, err, want)
		}
	}
	eb := map[string]any{"link": "engine-broker"}
	with := func(kv ...any) map[string]any {
		m := map[string]any{"link": "engine-broker"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	f("network-latency", with("latency_ms", 100, "jitter_ms", 20), "")
	f("network-latency", map[string]any{"link": "sink-influx", "direction": "downstream", "toxicity": 0.5}, "")
	f("network-latency", map[string]any{"latency_ms": 100}, "param link: required (one of: engine-broker, sink-influx)")
	f("network-latency", map[string]any{"link": "kafka"}, `param link: unknown "kafka"`)
	f("network-latency", with("latency_ms", -1), "param latency_ms: must be >= 0")
	f("network-latency", with("jitter_ms", 1.5), "param jitter_ms: want a whole number")
	f("network-latency", with("direction", "sideways"), "param direction: unknown")
	f("network-latency", with("toxicity", 0), "param toxicity: must be in (0, 1]")
	f("network-latency", with("latency", 5), "unknown param latency")
	f("network-bandwidth", with("kb_per_s", 64), "")
	f("network-bandwidth", with("kb_per_s", 0), "param kb_per_s: must be >= 1")
	f("network-reset", eb, "")
	f("network-reset", with("after_ms", 500), "")
	f("network-reset", with("after_ms", -5), "param after_ms: must be >= 0")
	f("network-partition", eb, "")
	f("network-partition", with("mode", "refuse"), "")
	f("network-partition", with("mode", "refuse", "direction", "upstream"), "param mode: refuse cuts every connection both ways")
	f("network-partition", with("mode", "drop"), `param mode: unknown "drop"`)
	f("network-slow-close", with("delay_ms", 2000), "")
	f("network-slow-close", with("delay_ms", "2s"), "param delay_ms: want a whole number")
	f("sink-slow", map[string]any{"latency_ms": 300, "jitter_ms": 100}, "")
	f("sink-slow", map[string]any{"link": "engine-broker"}, "unknown param link")
	f("sink-errors", nil, "")
	f("sink-errors", map[string]any{"probability": 0.3, "status": 500, "forward": true}, "")
	f("sink-errors", map[string]any{"probability": 1.5}, "param probability: must be in (0, 1]")
	f("sink-errors", map[string]any{"status": 404}, "param status: must be a 5xx status")
	f("sink-errors", map[string]any{"forward": "yes"}, "param forward: want true or false")
	for _, k := range []string{"network-latency", "network-bandwidth", "network-reset", "network-partition", "network-slow-close", "sink-slow", "sink-errors"} {
		if !NetworkKind(k) {
			t.Errorf("NetworkKind(%s) = false", k)
		}
		if !strings.Contains(KindDoc(), k+": ") || ParamsDoc(k) == "" {
			t.Errorf("%s undocumented", k)
		}
	}
	if NetworkKind("worker-crash") {
		t.Error("NetworkKind(worker-crash)")
	}
}

// startProxy starts a toxiproxy proxy on a free port to upstream.
func startProxy(t *testing.T, name, upstream string) *toxiproxy.Proxy {
	t.Helper()
	zerolog.SetGlobalLevel(zerolog.Disabled) // the bandwidth toxic logs globally
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// TestNetworkKafka runs a franz-go client through a toxiproxy proxy per
// kfake broker (a dialer maps each broker address to its proxy): a
// partition blocks every request and heals; records produced across it
// are all there, exactly once; latency slows a round trip; refuse fails
// it at once.
func TestNetworkKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.Ports(0, 0), kfake.SeedTopics(2, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tg := &netTarget{links: map[string][]*toxiproxy.Proxy{}}
	m := map[string]string{}
	for i, a := range c.ListenAddrs() {
		p := startProxy(t, fmt.Sprintf("b%d", i), a)
		tg.links[LinkEngineBroker] = append(tg.links[LinkEngineBroker], p)
		m[a] = p.Listen
	}
	var dials, unmapped atomic.Int64
	dial := func(ctx context.Context, network, host string) (net.Conn, error) {
		dials.Add(1)
		to, ok := m[host]
		if !ok {
			unmapped.Add(1)
			to = host
		}
		return (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, to)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()[0]), kgo.Dialer(dial), kgo.DefaultProduceTopic("t"),
		kgo.RequestTimeoutOverhead(time.Second), kgo.ProduceRequestTimeout(time.Second), kgo.RetryTimeout(time.Minute),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ping := func(d time.Duration) (time.Duration, error) {
		pctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		t0 := time.Now()
		err := cl.Ping(pctx)
		return time.Since(t0), err
	}
	if _, err := ping(5 * time.Second); err != nil {
		t.Fatal(err)
	}

	// Produce 2000 records, 1000 of them while the link is cut.
	const n = 2000
	var acked, failed atomic.Int64
	var wg sync.WaitGroup
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			wg.Add(1)
			cl.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i % 7)), Value: []byte(fmt.Sprint(i))}, func(_ *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					failed.Add(1)
					return
				}
				acked.Add(1)
			})
		}
	}
	produce(0, n/2)
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	part, err := New(Spec{Kind: "network-partition", Duration: time.Second, Params: map[string]any{"link": LinkEngineBroker}})
	if err != nil {
		t.Fatal(err)
	}
	if err := part.Inject(ctx, tg); err != nil {
		t.Fatal(err)
	}
	produce(n/2, n)
	if d, err := ping(time.Second); err == nil {
		t.Errorf("a request went through the partition in %s", d)
	}
	time.Sleep(2 * time.Second)
	if acked.Load() != n/2 {
		t.Errorf("%d records acknowledged during the partition, want %d (those before it)", acked.Load(), n/2)
	}
	if err := part.Heal(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if acked.Load() != n || failed.Load() != 0 {
		t.Fatalf("after the heal: %d acknowledged, %d failed, want %d and 0", acked.Load(), failed.Load(), n)
	}
	if d, err := ping(5 * time.Second); err != nil {
		t.Fatalf("ping after the heal: %v (%s)", err, d)
	}

	// Every record exactly once (kfake itself, not through the proxies).
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("t"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	seen := map[string]int{}
	total := 0
	for total < n && ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++; total++ })
	}
	if total != n || len(seen) != n {
		t.Fatalf("consumed %d records, %d distinct, want %d", total, len(seen), n)
	}

	// Latency 150 ms each way: a round trip takes >= 300 ms; healed: fast.
	lat, err := New(Spec{Kind: "network-latency", Duration: time.Second, Params: map[string]any{"link": LinkEngineBroker, "latency_ms": 150}})
	if err != nil {
		t.Fatal(err)
	}
	if err := lat.Inject(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if d, err := ping(5 * time.Second); err != nil || d < 300*time.Millisecond {
		t.Errorf("ping with 150ms latency each way: %s, %v", d, err)
	}
	if err := lat.Heal(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if d, err := ping(5 * time.Second); err != nil || d > 250*time.Millisecond {
		t.Errorf("ping after the latency heal: %s, %v", d, err)
	}

	// Refuse: connections closed, new ones refused; healed: back.
	ref, err := New(Spec{Kind: "network-partition", Duration: time.Second, Params: map[string]any{"link": LinkEngineBroker, "mode": "refuse"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Inject(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", tg.links[LinkEngineBroker][0].Listen, time.Second); err == nil {
		t.Error("a dial to a stopped proxy worked")
	}
	if d, err := ping(time.Second); err == nil {
		t.Errorf("a request went through a refusing proxy in %s", d)
	}
	if err := ref.Heal(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if d, err := ping(5 * time.Second); err != nil {
		t.Fatalf("ping after the refuse heal: %v (%s)", err, d)
	}
	if unmapped.Load() != 0 || dials.Load() < 2 {
		t.Errorf("%d dials, %d not through a proxy", dials.Load(), unmapped.Load())
	}
	if err := part.Inject(ctx, &fakeTarget{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("inject without proxies: %v", err)
	}
}

// TestNetworkResetBandwidth: reset closes a connection on its next data;
// a bandwidth limit slows a transfer to about its rate.
func TestNetworkResetBandwidth(t *testing.T) {
	// An echo server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	p := startProxy(t, "echo", ln.Addr().String())
	tg := &netTarget{links: map[string][]*toxiproxy.Proxy{LinkSinkInflux: {p}}}
	ctx := context.Background()
	echo := func(c net.Conn, n int) (time.Duration, error) {
		t0 := time.Now()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() { _, _ = c.Write(make([]byte, n)) }()
		_, err := io.ReadFull(c, make([]byte, n))
		return time.Since(t0), err
	}
	c, err := net.Dial("tcp", p.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := echo(c, 10); err != nil {
		t.Fatal(err)
	}
	reset, err := New(Spec{Kind: "network-reset", Duration: time.Second, Params: map[string]any{"link": LinkSinkInflux}})
	if err != nil {
		t.Fatal(err)
	}
	if err := reset.Inject(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if _, err := echo(c, 10); err == nil {
		t.Error("a connection survived network-reset")
	}
	if err := reset.Heal(ctx, tg); err != nil {
		t.Fatal(err)
	}

	bw, err := New(Spec{Kind: "network-bandwidth", Duration: time.Second, Params: map[string]any{"link": LinkSinkInflux, "kb_per_s": 100, "direction": "upstream"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := bw.Inject(ctx, tg); err != nil {
		t.Fatal(err)
	}
	c2, err := net.Dial("tcp", p.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	// 100 KB at 100 KB/s: about a second.
	if d, err := echo(c2, 100_000); err != nil || d < 700*time.Millisecond || d > 5*time.Second {
		t.Errorf("100 KB at 100 KB/s: %s, %v", d, err)
	}
	if err := bw.Heal(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if d, err := echo(c2, 100_000); err != nil || d > 500*time.Millisecond {
		t.Errorf("100 KB after the heal: %s, %v", d, err)
	}
}

// TestSinkErrors fails requests through an ErrorProxy: all of them with
// probability 1, the upstream not reached (or reached with forward);
// healed, everything passes.
func TestSinkErrors(t *testing.T) {
	var got atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		if r.Header.Get("Authorization") != "Token s3cret" || r.Host != r.Context().Value(http.LocalAddrContextKey).(net.Addr).String() {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	ep := NewErrorProxy(u, nil)
	front := httptest.NewServer(ep)
	defer front.Close()
	tg := &netTarget{ep: ep}
	post := func() int {
		t.Helper()
		req, _ := http.NewRequest("POST", front.URL+"/api/v2/write?bucket=b", strings.NewReader("m f=1"))
		req.Header.Set("Authorization", "Token s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	f := func(params map[string]any, wantStatus int, wantUpstream int64) {
		t.Helper()
		ft, err := New(Spec{Kind: "sink-errors", Duration: time.Second, Params: params})
		if err != nil {
			t.Fatal(err)
		}
		got.Store(0)
		if err := ft.Inject(context.Background(), tg); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if s := post(); s != wantStatus {
				t.Errorf("%v: status %d, want %d", params, s, wantStatus)
			}
		}
		if got.Load() != wantUpstream {
			t.Errorf("%v: upstream got %d requests, want %d", params, got.Load(), wantUpstream)
		}
		if err := ft.Heal(context.Background(), tg); err != nil {
			t.Fatal(err)
		}
		if h := ft.(*sinkErrors).Hits(); h != 5 {
			t.Errorf("%v: %d hits, want 5", params, h)
		}
		if s := post(); s != http.StatusNoContent {
			t.Errorf("after the heal: status %d", s)
		}
	}
	f(map[string]any{"probability": 1}, 503, 0)
	f(map[string]any{"probability": 1, "status": 500, "forward": true}, 500, 5)
	if err := (&sinkErrors{probability: 1, status: 503}).Inject(context.Background(), &fakeTarget{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("inject without an error proxy: %v", err)
	}
}

// TestNetworkInjectRollback: a toxic that cannot be added removes those
// added before it (a fault that failed to inject is never healed).
func TestNetworkInjectRollback(t *testing.T) {
	p := startProxy(t, "x", "127.0.0.1:1")
	tg := &netTarget{links: map[string][]*toxiproxy.Proxy{LinkSinkInflux: {p}}}
	f := &toxicFault{kind: "network-latency", link: LinkSinkInflux, typ: "latency", attrs: map[string]any{"latency": 1},
		streams: []string{"upstream", "sideways"}, toxicity: 1}
	if err := f.Inject(context.Background(), tg); err == nil || !strings.Contains(err.Error(), "add latency toxic") {
		t.Fatalf("inject: %v", err)
	}
	if ts := p.Toxics.GetToxicArray(); len(ts) != 0 {
		t.Errorf("%d toxics left after a failed inject", len(ts))
	}
}
