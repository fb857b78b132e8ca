package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/faults"
)

// TestNetProxies starts the stack's proxies in front of a two-broker kfake
// cluster and an HTTP server standing in for InfluxDB: the engine's
// connection reaches every broker through its proxy (a partition of the
// engine-broker link blocks it, and records produced across it are all
// there once healed), and the sink's URL reaches the server through the
// sink-influx proxy and the error proxy (sink-errors fails requests).
func TestNetProxies(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.Ports(0, 0), kfake.SeedTopics(4, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var writes atomic.Int64
	influx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writes.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer influx.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn := kafka.Conn{Brokers: c.ListenAddrs()[:1]}
	n, err := startNetProxies(ctx, conn, influx.URL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	st := &Stack{net: n, conn: conn, cfg: defaultCfg()}
	tg := stackTarget{st}

	// Every broker has its proxy, and worker processes get the same map.
	for _, a := range c.ListenAddrs() {
		if to := n.brokerMap[a]; !strings.HasPrefix(to, "127.0.0.1:") || to == a {
			t.Errorf("broker %s: proxy %q", a, to)
		}
	}
	if len(n.brokerMap) != 2 {
		t.Errorf("broker map %v", n.brokerMap)
	}
	args := n.engineArgs()
	if m, err := kafka.ParseBrokerMap(args[1]); len(args) != 2 || args[0] != "--broker-map" || err != nil || kafka.FormatBrokerMap(m) != kafka.FormatBrokerMap(n.brokerMap) {
		t.Errorf("engine args %v", args)
	}
	if pa := strings.Join(st.workerArgs(0), " "); !strings.Contains(pa, "--broker-map "+args[1]) {
		t.Errorf("worker process args %s", pa)
	}
	if ps, err := tg.LinkProxies(faults.LinkEngineBroker); err != nil || len(ps) != 2 {
		t.Errorf("engine-broker proxies %v, %v", ps, err)
	}
	if _, err := tg.LinkProxies("nope"); err == nil {
		t.Error("a link that does not exist")
	}
	if _, err := (stackTarget{&Stack{}}).LinkProxies(faults.LinkSinkInflux); !errors.Is(err, faults.ErrUnsupported) {
		t.Errorf("a stack without proxies: %v", err)
	}

	// Engine connection through the proxies, across a partition.
	opts, err := n.engineConn(conn).Opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic("events"), kgo.RequestTimeoutOverhead(time.Second),
		kgo.ProduceRequestTimeout(time.Second), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const total = 1000
	var acked, failed atomic.Int64
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			cl.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i % 13)), Value: []byte(fmt.Sprint(i))}, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Add(1)
					return
				}
				acked.Add(1)
			})
		}
	}
	produce(0, total/2)
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	part, err := faults.New(faults.Spec{Kind: "network-partition", Duration: time.Second, Params: map[string]any{"link": "engine-broker"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := part.Inject(ctx, tg); err != nil {
		t.Fatal(err)
	}
	produce(total/2, total)
	time.Sleep(1500 * time.Millisecond)
	if a := acked.Load(); a != total/2 {
		t.Errorf("%d acknowledged with the link cut, want the %d before", a, total/2)
	}
	if err := part.Heal(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if acked.Load() != total || failed.Load() != 0 {
		t.Fatalf("%d acknowledged, %d failed; want %d, 0", acked.Load(), failed.Load(), total)
	}
	direct, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	ends, err := kadm.NewClient(direct).ListEndOffsets(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	var inTopic int64
	ends.Each(func(o kadm.ListedOffset) { inTopic += o.Offset })
	if inTopic != total {
		t.Errorf("%d records in the topic, want exactly %d", inTopic, total)
	}

	// The sink's URL: through the proxy and the error proxy.
	post := func() int {
		t.Helper()
		resp, err := http.Post(n.sinkInfluxURL(influx.URL)+"/api/v2/write", "text/plain", strings.NewReader("m f=1"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if n.sinkInfluxURL(influx.URL) == influx.URL || post() != http.StatusNoContent || writes.Load() != 1 {
		t.Fatalf("sink URL %s: not through the proxy to InfluxDB (%d writes)", n.sinkInfluxURL(influx.URL), writes.Load())
	}
	se, err := faults.New(faults.Spec{Kind: "sink-errors", Duration: time.Second, Params: map[string]any{"probability": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := se.Inject(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if s := post(); s != http.StatusServiceUnavailable || writes.Load() != 1 {
		t.Errorf("with sink-errors: %d (%d writes)", s, writes.Load())
	}
	if err := se.Heal(ctx, tg); err != nil {
		t.Fatal(err)
	}
	if s := post(); s != http.StatusNoContent || writes.Load() != 2 {
		t.Errorf("after the heal: %d (%d writes)", s, writes.Load())
	}
	if (*netProxies)(nil).sinkInfluxURL("u") != "u" || (*netProxies)(nil).engineArgs() != nil || len((*netProxies)(nil).engineConn(conn).BrokerMap) != 0 {
		t.Error("a stack without proxies changes the connections")
	}
}
