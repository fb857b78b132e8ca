package stack

// Start-up safety: a gateway or query service bound to an address other
// hosts can reach is refused without a bearer token unless
// InsecureNoToken says so; the managed influxd listens on loopback only.

import (
	"net"
	"net/http"
	"strconv"

	"github.com/countlab/countlab/harness"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ManagedInfluxPort is the port of the managed influxd's address
// 127.0.0.1:PORT (0: a free one). The managed influxd listens on loopback
// only, so another host is a configuration error.
func ManagedInfluxPort(addr string) (int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, harness.Configf("--influx-listen: %q is not host:port (e.g. 127.0.0.1:8086)", addr)
	}
	if host != "127.0.0.1" && host != "localhost" {
		return 0, harness.Configf("--influx-listen: the managed influxd listens on 127.0.0.1 only, got host %q (use 127.0.0.1:PORT, or --influx-url for another server)", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return 0, harness.Configf("--influx-listen: port %q is not 0..65535", port)
	}
	return n, nil
}

// CheckExposure refuses a listen address other hosts can reach (not
// loopback: 0.0.0.0, an interface's address, an empty host) when no bearer
// token is set, unless insecure; what names the address in the error.
func CheckExposure(flagName, addr, token string, insecure bool) error {
	if token != "" || insecure || IsLoopback(addr) {
		return nil
	}
	return harness.Configf("%s %s is reachable from other hosts and no bearer token is set: set COUNTLAB_TOKEN (or COUNTLAB_TOKEN_FILE), "+
		"listen on 127.0.0.1, or pass --insecure-no-token to serve without authentication", flagName, addr)
}

// IsLoopback reports whether host:port addr binds a loopback address only.
func IsLoopback(addr string) bool {
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

// MetricsHandler serves g on GET /metrics (a part that fails to gather is
// left out of the answer rather than failing it).
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return mux
}
