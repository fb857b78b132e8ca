package influxd

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// Files and directories inside the data directory.
const (
	confFile = "influxd.conf"
	logFile  = "influxd.log"
	metaDir  = "meta"
	dataDir  = "data"
	walDir   = "wal"
)

// layout is what the config file is rendered from.
type layout struct {
	dir      string // data directory (absolute)
	httpPort int
	rpcPort  int
	auth     bool // auth-enabled (Auth)
}

func (l layout) confPath() string { return filepath.Join(l.dir, confFile) }
func (l layout) logPath() string  { return filepath.Join(l.dir, logFile) }
func (l layout) httpAddr() string { return loopback(l.httpPort) }
func (l layout) rpcAddr() string  { return loopback(l.rpcPort) }

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// render returns the influxd.conf for l. Every setting, and why, is listed
// in the package documentation; keep the two in step.
func (l layout) render() string {
	q := strconv.Quote
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	w("# Written by countlab (engine/influxd); rewritten on every start.")
	w("reporting-disabled = true")
	w("bind-address = %s", q(l.rpcAddr()))
	w("")
	w("[meta]")
	w("  dir = %s", q(filepath.Join(l.dir, metaDir)))
	w("  retention-autocreate = true")
	w("  logging-enabled = false")
	w("")
	w("[data]")
	w("  dir = %s", q(filepath.Join(l.dir, dataDir)))
	w("  wal-dir = %s", q(filepath.Join(l.dir, walDir)))
	w("  index-version = \"inmem\"")
	w("  wal-fsync-delay = \"0s\"")
	w("  cache-snapshot-write-cold-duration = \"1m\"")
	w("  query-log-enabled = false")
	w("  max-series-per-database = 0")
	w("  max-values-per-tag = 0")
	w("")
	w("[retention]")
	w("  enabled = false")
	w("")
	w("[monitor]")
	w("  store-enabled = false")
	w("")
	w("[subscriber]")
	w("  enabled = false")
	w("")
	w("[continuous_queries]")
	w("  enabled = false")
	w("  log-enabled = false")
	w("")
	w("[http]")
	w("  enabled = true")
	w("  bind-address = %s", q(l.httpAddr()))
	w("  auth-enabled = %t", l.auth)
	w("  flux-enabled = true")
	w("  flux-log-enabled = false")
	w("  log-enabled = false")
	w("  suppress-write-log = true")
	w("  pprof-enabled = false")
	w("  unix-socket-enabled = false")
	w("")
	w("[logging]")
	w("  format = \"logfmt\"")
	w("  level = \"warn\"")
	w("  suppress-logo = true")
	w("")
	for _, s := range []string{"graphite", "collectd", "opentsdb", "udp"} {
		w("[[%s]]", s)
		w("  enabled = false")
	}
	return b.String()
}
