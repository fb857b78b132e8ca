package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestParseBrokerMap(t *testing.T) {
	f := func(in, want, wantErr string) {
		t.Helper()
		m, err := ParseBrokerMap(in)
		switch {
		case wantErr != "":
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%q: got %v, want an error with %q", in, err, wantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", in, err)
		case FormatBrokerMap(m) != want:
			t.Errorf("%q: got %q, want %q", in, FormatBrokerMap(m), want)
		}
	}
	f("", "", "")
	f("b:2=p:2, a:1=p:1,", "a:1=p:1,b:2=p:2", "")
	f("a:1=p:1,a:1=p:1", "a:1=p:1", "")
	f("a:1", "", `"a:1" is not from=to`)
	f("a=p:1", "", "missing port")
	f("a:1=p:1,a:1=q:1", "", "mapped twice")
}

// TestBrokerMap runs a client of a Conn whose BrokerMap sends each of two
// kfake brokers through its own toxiproxy proxy: records go through, and
// when the proxies stop, nothing does (no dial bypasses them).
func TestBrokerMap(t *testing.T) {
	zerolog.SetGlobalLevel(zerolog.Disabled)
	c, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.Ports(0, 0), kfake.SeedTopics(2, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	conn := Conn{Brokers: c.ListenAddrs()[:1], BrokerMap: map[string]string{}}
	var proxies []*toxiproxy.Proxy
	for i, a := range c.ListenAddrs() {
		p := toxiproxy.NewProxy(srv, fmt.Sprint(i), "127.0.0.1:0", a)
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		proxies = append(proxies, p)
		conn.BrokerMap[a] = p.Listen
	}
	if s := conn.String(); !strings.Contains(s, "via 2 proxies") {
		t.Errorf("String: %s", s)
	}
	opts, err := conn.Opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic("t"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 500
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	direct, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	ends, err := kadm.NewClient(direct).ListEndOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	var hw int64
	ends.Each(func(o kadm.ListedOffset) { hw += o.Offset })
	if hw != n {
		t.Errorf("%d records in the topic, want %d", hw, n)
	}
	for _, p := range proxies {
		p.Stop()
	}
	pctx, pcancel := context.WithTimeout(ctx, time.Second)
	defer pcancel()
	if err := cl.Ping(pctx); err == nil {
		t.Error("a request went through with every proxy stopped")
	}
}
