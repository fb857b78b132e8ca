package main

// Start-up safety and the operator flags of the stack commands (up, run,
// selfcheck, plan): --metrics-listen (every part's metrics on one
// endpoint), --influx-listen (the managed influxd's address) and
// --insecure-no-token. A gateway or query service bound to an address
// other hosts can reach is refused without a bearer token unless
// --insecure-no-token says so.

import (
	"flag"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// registerOps adds --metrics-listen, --influx-listen and
// --insecure-no-token to fs.
func (f *stackFlags) registerOps(fs *flag.FlagSet) {
	fs.StringVar(&f.metricsListen, "metrics-listen", "127.0.0.1:0", "serve every part's Prometheus metrics (engine, sink, gateway, query) on http://ADDR/metrics, host:port (port 0: a free port; printed at start-up)")
	fs.StringVar(&f.influxListen, "influx-listen", "127.0.0.1:0", "the managed influxd's HTTP address, 127.0.0.1:PORT (port 0: a free port; ignored with --influx-url)")
	registerInsecureNoToken(fs, &f.insecureNoToken)
}

// registerInsecureNoToken adds --insecure-no-token to fs.
func registerInsecureNoToken(fs *flag.FlagSet, p *bool) {
	fs.BoolVar(p, "insecure-no-token", false, "allow a gateway or query address other hosts can reach without COUNTLAB_TOKEN (anyone who reaches it can send or read events)")
}

// validateOps checks the flags registerOps added and the token rule.
func (f *stackFlags) validateOps() error {
	for _, d := range []struct {
		name   string
		v      time.Duration
		zeroOK bool
	}{{"lateness", f.lateness, true}, {"out-of-orderness", f.outOfOrder, true}, {"commit-interval", f.commitEvery, false}} {
		if d.v < 0 || (d.v == 0 && !d.zeroOK) {
			return usagef("--%s %s means nothing: give a positive duration like 100ms or 15s", d.name, d.v)
		}
	}
	if _, _, err := net.SplitHostPort(f.metricsListen); err != nil {
		return usagef("--metrics-listen: %q is not host:port (e.g. 127.0.0.1:9100, or port 0 for a free one)", f.metricsListen)
	}
	if _, err := f.influxPort(); err != nil {
		return err
	}
	token, err := tokenFromEnv()
	if err != nil {
		return usagef("%v", err)
	}
	for _, l := range []struct{ flag, addr string }{{"--gateway-listen", f.gatewayListen}, {"--query-listen", f.queryListen}} {
		if err := checkExposure(l.flag, l.addr, token, f.insecureNoToken); err != nil {
			return err
		}
	}
	return nil
}

// influxPort is the port of --influx-listen (0: a free one). The managed
// influxd listens on loopback only, so another host is a usage error.
func (f *stackFlags) influxPort() (int, error) {
	host, port, err := net.SplitHostPort(f.influxListen)
	if err != nil {
		return 0, usagef("--influx-listen: %q is not host:port (e.g. 127.0.0.1:8086)", f.influxListen)
	}
	if host != "127.0.0.1" && host != "localhost" {
		return 0, usagef("--influx-listen: the managed influxd listens on 127.0.0.1 only, got host %q (use 127.0.0.1:PORT, or --influx-url for another server)", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return 0, usagef("--influx-listen: port %q is not 0..65535", port)
	}
	return n, nil
}

// checkExposure refuses a listen address other hosts can reach (not
// loopback: 0.0.0.0, an interface's address, an empty host) when no bearer
// token is set, unless insecure.
func checkExposure(flagName, addr, token string, insecure bool) error {
	if token != "" || insecure || isLoopback(addr) {
		return nil
	}
	return usagef("%s %s is reachable from other hosts and no bearer token is set: set COUNTLAB_TOKEN (or COUNTLAB_TOKEN_FILE), "+
		"listen on 127.0.0.1, or pass --insecure-no-token to serve without authentication", flagName, addr)
}

// isLoopback reports whether host:port addr binds a loopback address only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// metricsHandler serves g on GET /metrics (a part that fails to gather is
// left out of the answer rather than failing it).
func metricsHandler(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return mux
}
