// Package influxd runs a managed InfluxDB 1.8 server (the influxd binary the
// Makefile pins, v1.8.10) as a child process on free 127.0.0.1 ports, for
// runs and tests that are given no InfluxDB URL.
//
// Start finds the binary (see FindBinary), writes a config file into a data
// directory, starts `influxd run -config FILE` in its own process group with
// stdout and stderr going to influxd.log in that directory, waits for
// GET /health to answer 200 (1.8 has no /ready), and runs
// CREATE DATABASE "countlab" (POST /query). The database's default
// retention policy "autogen" (infinite) makes the v2-compatible bucket
// "countlab/autogen"; Config returns URL, Org "countlab" (ignored by 1.8)
// and that bucket, with no token (auth is off). Clients talk to it only
// through influxdb-client-go/v2: /api/v2/write and Flux on /api/v2/query.
//
// Stop sends SIGTERM, waits up to 10 s, then SIGKILL, and removes the data
// directory unless DataDir gave it. Kill sends SIGKILL and keeps the data;
// Restart starts the server again on the same ports with the same data
// (WAL replay); Pause and Resume send SIGSTOP and SIGCONT. These are what
// fault scenarios ("InfluxDB down for 30 s", "InfluxDB hangs") act with. On
// Linux the kernel kills influxd if countlab dies (Pdeathsig), so it never
// outlives its parent.
//
// # Configuration, and why
//
// Top level:
//   - reporting-disabled = true: no usage report to influxdata.com (only
//     loopback networking here, and none wanted anywhere).
//   - bind-address = 127.0.0.1:<free port>: the RPC service used by
//     backup/restore defaults to :8088 on all interfaces; two servers (or a
//     system InfluxDB) would collide on it, so it moves to its own free
//     loopback port.
//
// [meta]: dir in the data directory; retention-autocreate = true (CREATE
// DATABASE makes "autogen", which the bucket names); logging-enabled = false.
//
// [data]:
//   - dir and wal-dir in the data directory.
//   - index-version = "inmem": the 1.8 default, stated so a changed default
//     cannot surprise; fastest for the series counts a load test makes, and
//     rebuilt from the TSM and WAL files on start, so nothing extra to
//     recover after Kill.
//   - wal-fsync-delay = "0s": a write is acknowledged only after its WAL
//     entry is fsynced. That is what makes Kill + Restart lose nothing that
//     was acknowledged, which the exactly-once checks depend on. It costs
//     little: concurrent writes already share one fsync (group commit), and
//     a delay would only add latency to every write.
//   - cache-snapshot-write-cold-duration = "1m" (default 10m): an idle
//     shard's cache is written to a TSM file after a minute, so the WAL a
//     restart must replay stays short (faster recovery in fault scenarios).
//   - max-series-per-database = 0 and max-values-per-tag = 0 (defaults
//     1,000,000 and 100,000): no cardinality limit. A limit would reject
//     points of a high-cardinality scenario (many keys, dims or hot-key
//     sub-keys), turning a load test into data loss; measuring such a load
//     is the point.
//   - query-log-enabled = false: no log line per query.
//
// [retention] enabled = false: "autogen" keeps data forever, so the
// enforcement loop has nothing to do. [monitor] store-enabled = false: no
// _internal database written every 10 s (disk and CPU on a small machine,
// noise in SHOW DATABASES). [subscriber] enabled = false, [continuous_queries]
// enabled = false: not used. [[graphite]], [[collectd]], [[opentsdb]],
// [[udp]] enabled = false: no listeners besides HTTP and RPC.
//
// [http]: enabled = true on bind-address 127.0.0.1:<free port> (loopback
// only); auth-enabled = false (local, single-user; the token is ""),
// flux-enabled = true (the v2 query API and Flux are off by default in 1.8),
// log-enabled = false and suppress-write-log = true (no access-log line per
// request, which at load-test rates is a disk and CPU cost of its own),
// flux-log-enabled = false, pprof-enabled = false, unix-socket-enabled =
// false.
//
// [logging]: level = "warn", format = "logfmt", suppress-logo = true: the
// log file holds what went wrong, not a banner and per-shard chatter; its
// last lines are included in any startup error.
//
// The process environment is passed on without INFLUXDB_* variables, which
// influxd would otherwise apply on top of the config file.
//
// # Startup
//
// Ports are checked free just before launch. A server counts as up when
// GET /health answers 200 and its expvar command line (GET /debug/vars)
// names our config file, so a different server already holding the port is
// never mistaken for ours; ports Start picked itself are picked again (up
// to 3 times) when taken, a port given with Port is an error. About 2.7 s of
// CPU of every start is influxd type-checking its Flux standard library
// (flux-enabled); on an idle machine Start takes about 3 s, on a loaded
// 2-core machine it was seen taking over 20 s, hence the 90 s default
// timeout (StartTimeout).
package influxd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/countlab/countlab/engine/influx"
)

// ErrStopped is returned by methods of a Server after Stop.
var ErrStopped = errors.New("influxd: server stopped")

// Server is a managed influxd process. Its methods are safe for concurrent
// use; lifecycle methods (Stop, Kill, Restart, Pause, Resume) are
// serialized.
type Server struct {
	cfg  cfg
	bin  string
	lay  layout
	temp bool // lay.dir is ours to remove

	mu      sync.Mutex
	proc    *proc
	stopped bool
}

// proc is one run of the influxd process.
type proc struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	err      error         // Wait's result, set before done is closed
	expected atomic.Bool   // we asked it to exit
	up       atomic.Bool   // it answered GET /health
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Start starts a managed influxd and returns once it answers GET /health
// and the database exists. ctx bounds the startup only: the server runs
// until Stop or Kill.
//
// The binary is the Binary option's, else FindBinary's; when none is found
// the error wraps ErrNoBinary and tells the user to run `make influxd`.
func Start(ctx context.Context, opts ...Opt) (*Server, error) {
	c := defaultCfg()
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	bin := c.binary
	if bin == "" {
		var err error
		if bin, err = FindBinary(); err != nil {
			return nil, err
		}
	} else if err := executable(bin); err != nil {
		return nil, fmt.Errorf("influxd: Binary(%q): %w", bin, err)
	}

	s := &Server{cfg: c, bin: bin}
	dir := c.dataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "countlab-influxd-")
		if err != nil {
			return nil, fmt.Errorf("influxd: data dir: %w", err)
		}
		dir, s.temp = d, true
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("influxd: data dir: %w", err)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	s.lay.dir = dir
	s.lay.auth = c.user != ""

	began := time.Now()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		err := s.pickPorts()
		if err == nil {
			err = s.boot(ctx)
		}
		if err == nil {
			break
		}
		// A picked port can be taken between picking and binding; pick
		// again. A port the caller chose is not moved.
		if errors.Is(err, errAddrInUse) && c.port == 0 && attempt < attempts {
			c.logger.Warn("influxd: port taken, retrying with new ports", "attempt", attempt)
			continue
		}
		s.cleanup()
		return nil, err
	}
	if err := s.createDatabase(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	c.logger.Info("influxd started", "url", s.URL(), "bucket", s.Config().Bucket,
		"dir", s.lay.dir, "pid", s.proc.cmd.Process.Pid, "took", time.Since(began))
	return s, nil
}

func (s *Server) pickPorts() error {
	n := 2
	if s.cfg.port != 0 {
		n = 1
	}
	ports, err := freePorts(n)
	if err != nil {
		return err
	}
	if s.cfg.port != 0 {
		s.lay.httpPort, s.lay.rpcPort = s.cfg.port, ports[0]
	} else {
		s.lay.httpPort, s.lay.rpcPort = ports[0], ports[1]
	}
	return nil
}

// cleanup removes a temporary data dir after a failed Start.
func (s *Server) cleanup() {
	if s.temp {
		os.RemoveAll(s.lay.dir)
	}
}

// Config is how clients reach the server: URL, Org "countlab" (ignored by
// 1.8), Bucket "<database>/autogen", and the Auth user and password (none
// without Auth).
func (s *Server) Config() influx.Config {
	return influx.Config{URL: s.URL(), Org: Org, Bucket: s.cfg.database + "/" + RetentionPolicy,
		User: s.cfg.user, Password: s.cfg.password}
}

// URL is the server's base URL, http://127.0.0.1:PORT. It stays the same
// across Restart.
func (s *Server) URL() string { return "http://" + s.lay.httpAddr() }

// DataDir is the directory holding the config, meta, data, wal and log.
func (s *Server) DataDir() string { return s.lay.dir }

// LogFile is the path of influxd's stdout and stderr.
func (s *Server) LogFile() string { return s.lay.logPath() }

// Pid is the process id of the current influxd process, 0 if it is not
// running.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.exited() {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Stop stops the server: SIGTERM, up to StopTimeout (10 s) to exit, then
// SIGKILL. It removes the data directory unless DataDir gave it. Calling it
// again is a no-op.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	err := s.halt()
	if s.temp {
		if rerr := os.RemoveAll(s.lay.dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("influxd: remove data dir: %w", rerr))
		}
	}
	s.cfg.logger.Info("influxd stopped", "url", s.URL())
	return err
}

// Kill SIGKILLs the server and waits for it to be gone, keeping the data
// directory: a crash, for fault tests. Restart brings it back.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	p := s.proc
	if p == nil || p.exited() {
		return nil
	}
	p.expected.Store(true)
	if err := signalProc(p.cmd.Process, sigKill); err != nil {
		return fmt.Errorf("influxd: kill: %w", err)
	}
	if err := waitDone(p, killWait); err != nil {
		return err
	}
	s.cfg.logger.Info("influxd killed", "url", s.URL())
	return nil
}

// restartBindWait is how long Restart tries the same ports again while
// another socket holds one.
const restartBindWait = 15 * time.Second

// Restart starts the server again on the same ports with the same data
// directory, first stopping it (as Stop does, keeping the data) if it is
// running or paused. It returns once GET /health answers; the data
// acknowledged before a Kill is there (WAL replay). It fails if a port
// is still taken after restartBindWait. ctx bounds the startup only.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	if err := s.halt(); err != nil {
		return err
	}
	began := time.Now()
	// A port freed by the stop can be held a moment by another socket
	// (an outgoing connection's local port is drawn from the same range):
	// the same ports are tried again for up to restartBindWait.
	for {
		err := s.boot(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, errAddrInUse) || time.Since(began) > restartBindWait || ctx.Err() != nil {
			return err
		}
		s.cfg.logger.Info("influxd restart: port in use, trying again", "url", s.URL(), "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
	if err := s.createDatabase(ctx); err != nil {
		return err
	}
	s.cfg.logger.Info("influxd restarted", "url", s.URL(), "pid", s.proc.cmd.Process.Pid, "took", time.Since(began))
	return nil
}

// Pause freezes the server (SIGSTOP): connections are accepted by the
// kernel but nothing answers, as with a hung server. Resume undoes it.
func (s *Server) Pause() error { return s.signal(sigStop, "pause") }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() error { return s.signal(sigCont, "resume") }

func (s *Server) signal(sig sig, what string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	p := s.proc
	if p == nil || p.exited() {
		return fmt.Errorf("influxd: %s: not running", what)
	}
	if err := signalProc(p.cmd.Process, sig); err != nil {
		return fmt.Errorf("influxd: %s: %w", what, err)
	}
	s.cfg.logger.Info("influxd "+what+"d", "url", s.URL())
	return nil
}

// killWait bounds the wait for a SIGKILLed process to be reaped.
const killWait = 5 * time.Second

// halt ends the current process, if any: SIGTERM (and SIGCONT, in case it
// is paused), StopTimeout, SIGKILL. Callers hold s.mu.
func (s *Server) halt() error {
	p := s.proc
	if p == nil || p.exited() {
		return nil
	}
	p.expected.Store(true)
	if err := signalProc(p.cmd.Process, sigTerm); err == nil {
		signalProc(p.cmd.Process, sigCont)
		select {
		case <-p.done:
			return nil
		case <-time.After(s.cfg.stopTimeout):
			s.cfg.logger.Warn("influxd did not stop after SIGTERM; killing", "url", s.URL(), "waited", s.cfg.stopTimeout)
		}
	}
	if err := signalProc(p.cmd.Process, sigKill); err != nil {
		return fmt.Errorf("influxd: kill: %w", err)
	}
	return waitDone(p, killWait)
}

func waitDone(p *proc, d time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(d):
		return fmt.Errorf("influxd: pid %d still running %v after SIGKILL", p.cmd.Process.Pid, d)
	}
}

// env is the parent's environment without INFLUXDB_* variables, which
// influxd applies over its config file.
func env() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INFLUXDB_") {
			out = append(out, kv)
		}
	}
	return out
}
