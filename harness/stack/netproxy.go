package stack

// The stack's network proxies, for the network faults (faults/network.go):
// toxiproxy proxies (the library, in-process) on 127.0.0.1 free ports on
// two links, and an HTTP error proxy for sink-errors.
//
//	engine-broker: engine worker --(kafka.Conn.BrokerMap dialer)--> one proxy per broker --> broker
//	sink-influx:   sink --> proxy --> faults.ErrorProxy (HTTP) --> InfluxDB
//
// Kafka clients learn broker addresses from metadata, so a front proxy is
// not enough: the engine's client dials each broker address through its
// own proxy (in-process workers get the map in their kafka.Conn, worker
// processes as --broker-map). The gateway, the query service, the sink's
// Kafka client and the recovery probe are not proxied.

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/faults"
)

// netProxies are a stack's network proxies.
type netProxies struct {
	srv       *toxiproxy.ApiServer
	links     map[string][]*toxiproxy.Proxy
	brokerMap map[string]string // broker address -> its engine-broker proxy
	sinkURL   string            // the sink's InfluxDB URL: its sink-influx proxy
	errProxy  *faults.ErrorProxy
	httpSrv   *http.Server
}

// startNetProxies starts a proxy per broker of conn's cluster (its seeds
// and the brokers its metadata advertises) and the sink's chain to the
// InfluxDB at influxURL. On error, what was started is stopped.
func startNetProxies(ctx context.Context, conn kafka.Conn, influxURL string, log *slog.Logger) (_ *netProxies, err error) {
	// toxiproxy logs with zerolog, some toxics through its global logger:
	// countlab logs with slog, and does not use zerolog otherwise.
	zerolog.SetGlobalLevel(zerolog.Disabled)
	n := &netProxies{
		srv:       toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()),
		links:     map[string][]*toxiproxy.Proxy{},
		brokerMap: map[string]string{},
	}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	brokers, err := brokerAddrs(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("network proxies: the brokers: %w", err)
	}
	for i, b := range brokers {
		p, err := n.proxy(fmt.Sprintf("%s-%d", faults.LinkEngineBroker, i), faults.LinkEngineBroker, b)
		if err != nil {
			return nil, err
		}
		n.brokerMap[b] = p.Listen
	}

	// Sink: proxy -> error proxy -> InfluxDB. The error proxy re-originates
	// the requests, so an https InfluxDB works behind the plain-http proxy.
	up, err := url.Parse(influxURL)
	if err != nil || up.Host == "" {
		return nil, fmt.Errorf("network proxies: InfluxDB URL %q: %v", influxURL, err)
	}
	n.errProxy = faults.NewErrorProxy(up, log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	n.httpSrv = &http.Server{Handler: n.errProxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = n.httpSrv.Serve(ln) }()
	p, err := n.proxy(faults.LinkSinkInflux, faults.LinkSinkInflux, ln.Addr().String())
	if err != nil {
		return nil, err
	}
	n.sinkURL = "http://" + p.Listen
	log.Info("network proxies up", "engine-broker", kafka.FormatBrokerMap(n.brokerMap), "sink-influx", n.sinkURL, "influxdb", up.Redacted())
	return n, nil
}

// proxy starts a proxy to upstream on a free 127.0.0.1 port.
func (n *netProxies) proxy(name, link, upstream string) (*toxiproxy.Proxy, error) {
	p := toxiproxy.NewProxy(n.srv, name, "127.0.0.1:0", upstream)
	if err := n.srv.Collection.Add(p, true); err != nil {
		return nil, fmt.Errorf("network proxy %s to %s: %w", name, upstream, err)
	}
	n.links[link] = append(n.links[link], p)
	return p, nil
}

// brokerAddrs are conn's seed brokers and those its metadata advertises.
func brokerAddrs(ctx context.Context, conn kafka.Conn) ([]string, error) {
	cl, err := conn.NewClient()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, b := range conn.Brokers {
		set[b] = true
	}
	for _, b := range md.Brokers {
		set[net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))] = true
	}
	return slices.Sorted(maps.Keys(set)), nil
}

// engineConn is c with the engine's dials routed through the proxies.
func (n *netProxies) engineConn(c kafka.Conn) kafka.Conn {
	if n == nil {
		return c
	}
	c.BrokerMap = maps.Clone(n.brokerMap)
	return c
}

// engineArgs are the `countlab engine` flags that route its dials through
// the proxies (none without proxies).
func (n *netProxies) engineArgs() []string {
	if n == nil {
		return nil
	}
	return []string{"--broker-map", kafka.FormatBrokerMap(n.brokerMap)}
}

// sinkInfluxURL is the URL the sink writes to: the sink-influx proxy
// (url without proxies).
func (n *netProxies) sinkInfluxURL(url string) string {
	if n == nil {
		return url
	}
	return n.sinkURL
}

// String describes the proxies.
func (n *netProxies) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s ", faults.LinkEngineBroker)
	for i, from := range slices.Sorted(maps.Keys(n.brokerMap)) {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s->%s", n.brokerMap[from], from)
	}
	fmt.Fprintf(&b, "; %s %s", faults.LinkSinkInflux, n.sinkURL)
	return b.String()
}

// Close stops every proxy and the error proxy.
func (n *netProxies) Close() {
	if n == nil {
		return
	}
	for _, ps := range n.links {
		for _, p := range ps {
			p.Stop()
		}
	}
	if n.httpSrv != nil {
		_ = n.httpSrv.Close()
	}
}

// LinkProxies implements faults.Network.
func (t stackTarget) LinkProxies(link string) ([]*toxiproxy.Proxy, error) {
	if t.s.net == nil {
		return nil, fmt.Errorf("the stack runs without network proxies (run starts them for a scenario with network faults): %w", faults.ErrUnsupported)
	}
	ps, ok := t.s.net.links[link]
	if !ok {
		return nil, fmt.Errorf("no link %q (links: %s)", link, strings.Join(faults.Links(), ", "))
	}
	return ps, nil
}

// SinkErrorProxy implements faults.HTTPFaults.
func (t stackTarget) SinkErrorProxy() (*faults.ErrorProxy, error) {
	if t.s.net == nil {
		return nil, fmt.Errorf("the stack runs without network proxies (run starts them for a scenario with sink-errors): %w", faults.ErrUnsupported)
	}
	return t.s.net.errProxy, nil
}

var (
	_ faults.Network    = stackTarget{}
	_ faults.HTTPFaults = stackTarget{}
)
