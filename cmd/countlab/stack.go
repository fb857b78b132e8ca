package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/broker"
	"github.com/countlab/countlab/engine/gateway"
	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/influxd"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/reports"
)

// stackFlags are the flags of every command that starts the embedded stack
// (up, selfcheck): where each part listens, or which external cluster and
// InfluxDB to use instead of the embedded ones.
type stackFlags struct {
	brokerListen  string
	brokers       string
	gatewayListen string
	queryListen   string
	dataDir       string
	partitions    int
	workers       int
	windows       string
	lateness      time.Duration
	retention     kafka.Retention // the scenario's topic retention
	outOfOrder    time.Duration
	commitEvery   time.Duration
	topicPrefix   string
	influxURL     string
	influxOrg     string
	influxBucket  string
	logLevel      string
	// metricsListen is where every part's metrics are served together
	// (stackmetrics.go); influxListen the managed influxd's HTTP address;
	// insecureNoToken allows a non-loopback gateway or query address
	// without COUNTLAB_TOKEN (safety.go).
	metricsListen   string
	influxListen    string
	insecureNoToken bool
	// engineProcs runs the engine workers as `countlab engine` processes
	// (so faults can SIGKILL and SIGSTOP them) instead of in-process.
	engineProcs bool
	// atLeastOnce (TEST ONLY, run's hidden --at-least-once-UNSAFE) runs
	// every engine worker with aggregate.AtLeastOnce: no transactions, no
	// dedup restore, so a crash double counts.
	atLeastOnce bool
	// brokerProc runs the embedded broker as a `countlab broker` process
	// on a fixed port, which broker-crash kills and restarts
	// (brokerproc.go).
	brokerProc bool
	// sessionTimeout is the engine worker processes' group session
	// timeout (0: the client default).
	sessionTimeout time.Duration
	// netProxies routes the engine's broker connections and the sink's
	// InfluxDB connections through proxies, for network faults
	// (netproxy.go; run sets it for a scenario with network faults).
	netProxies bool
	// engineBrokerMap is set by startStack when netProxies: engine worker
	// processes dial each broker through its proxy (--broker-map).
	engineBrokerMap map[string]string
	// gatewayRate (events/s) and gatewayMaxInFlight cap the gateway's
	// admission (gateway.RateLimit, gateway.MaxInFlight; 0: no cap, the
	// default): run sets them from the scenario's engine section
	// (overload.go).
	gatewayRate        float64
	gatewayMaxInFlight int
	// queryMiddleware, when set, wraps the query service's handler (TEST
	// ONLY: run's hidden --plant-query-delay-ms, gate.go).
	queryMiddleware func(http.Handler) http.Handler
}

func (f *stackFlags) register(fs *flag.FlagSet, fixedPorts bool) {
	bl, gl, ql := "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if fixedPorts {
		bl, gl, ql = "127.0.0.1:9092", "127.0.0.1:8080", "127.0.0.1:8081"
	}
	fs.StringVar(&f.brokerListen, "broker-listen", bl, "embedded broker address(es), host:port[,host:port...] (port 0: a free port)")
	fs.StringVar(&f.brokers, "brokers", "", "use this Kafka cluster (host:port[,...]) instead of the embedded broker")
	fs.StringVar(&f.gatewayListen, "gateway-listen", gl, "ingest gateway address, host:port")
	fs.StringVar(&f.queryListen, "query-listen", ql, "query service address, host:port")
	fs.StringVar(&f.dataDir, "data-dir", "", "keep broker and InfluxDB data here (default: a temp dir removed at exit)")
	fs.IntVar(&f.partitions, "partitions", 4, "partitions of each topic the stack creates")
	fs.IntVar(&f.workers, "workers", 1, "engine aggregator workers (consumer-group members)")
	fs.StringVar(&f.windows, "windows", "1m", "tumbling window sizes, comma-separated (e.g. 10s,1m,1h)")
	fs.DurationVar(&f.lateness, "lateness", 15*time.Second, "allowed lateness after a window's end")
	fs.DurationVar(&f.outOfOrder, "out-of-orderness", 5*time.Second, "bounded out-of-orderness of the watermark")
	fs.DurationVar(&f.commitEvery, "commit-interval", 100*time.Millisecond, "engine transaction commit interval")
	fs.StringVar(&f.topicPrefix, "topic-prefix", "", "prefix of every topic name (for shared clusters)")
	fs.StringVar(&f.influxURL, "influx-url", "", "use this InfluxDB (2.x API) instead of a managed influxd; token from COUNTLAB_INFLUX_TOKEN")
	fs.StringVar(&f.influxOrg, "influx-org", "", "InfluxDB organization (with --influx-url)")
	fs.StringVar(&f.influxBucket, "influx-bucket", "", "InfluxDB bucket (with --influx-url; on 1.8: db/rp)")
	fs.StringVar(&f.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	fs.BoolVar(&f.netProxies, "net-proxies", false, "route the engine's broker connections and the sink's InfluxDB connections through in-process toxiproxy proxies (a run with network faults does)")
	fs.BoolVar(&f.engineProcs, "engine-procs", false, "run the engine workers as countlab engine processes, which faults can SIGKILL and SIGSTOP (a run with worker faults does)")
	f.registerOps(fs) // --metrics-listen, --influx-listen, --insecure-no-token (safety.go)
}

// parse parses args into fs (where f is registered) and validates f.
func (f *stackFlags) parse(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return f.validate()
}

// windowSizes parses --windows.
func (f *stackFlags) windowSizes() ([]time.Duration, error) {
	return parseWindows("windows", f.windows)
}

func (f *stackFlags) validate() error {
	if f.partitions < 1 {
		return usagef("--partitions must be at least 1, got %d", f.partitions)
	}
	if f.workers < 1 {
		return usagef("--workers must be at least 1, got %d", f.workers)
	}
	for name, addr := range map[string]string{"--gateway-listen": f.gatewayListen, "--query-listen": f.queryListen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return usagef("%s: %q is not host:port (%v)", name, addr, err)
		}
	}
	if f.influxURL != "" && f.influxBucket == "" {
		return usagef("--influx-bucket is required with --influx-url (on InfluxDB 1.8 it is db/rp)")
	}
	if _, err := f.windowSizes(); err != nil {
		return err
	}
	if _, err := parseLogLevel(f.logLevel); err != nil {
		return err
	}
	return f.validateOps() // safety.go
}

// logger is a text logger on w at --log-level (warn when it is not valid:
// validate reports that).
func (f *stackFlags) logger(w io.Writer) *slog.Logger {
	log, err := newLogger(w, f.logLevel)
	if err != nil {
		log, _ = newLogger(w, "warn")
	}
	return log
}

// stack is a running pipeline: broker (or an external cluster), InfluxDB
// (managed or external), gateway, engine workers, sink and query service.
type stack struct {
	log     *slog.Logger
	conn    kafka.Conn
	topics  kafka.Topics
	influx  influx.Config
	windows []time.Duration

	broker   *broker.Broker // nil with --brokers
	engines  []*workerProc  // with --engine-procs
	nWorkers int
	influxd  *influxd.Server  // nil with --influx-url
	net      *netProxies      // with --net-proxies (netproxy.go)
	gateway  *gateway.Gateway // closed on Close
	query    *query.Server
	sink     *sink.Sink
	sinkReg  *prometheus.Registry // the sink's metrics (cpu.go)
	servers  []*http.Server
	tempDir  string
	gwAddr   string
	qAddr    string
	// metrics is every part's metrics (stackmetrics.go), served on
	// metricsAddr (--metrics-listen).
	metrics     *stackMetrics
	metricsAddr string
	brokerDA    string

	runCtx context.Context // done when the stack closes
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errMu  sync.Mutex
	errs   []error
	failed chan struct{} // closed when a part stops with an error

	engineRestarts atomic.Int64 // engine workers (in-process or processes) restarted after an unexpected stop

	// brokerProc is the broker run as a process (brokerproc.go); then
	// broker is nil.
	brokerProc *brokerChild
	// scaler adds and removes engine worker processes (rebalance.go).
	scaler *workerScaler
}

// startStack starts every part and returns once each is serving. On error,
// what was started is stopped again.
func startStack(ctx context.Context, f *stackFlags, log *slog.Logger) (_ *stack, err error) {
	windows, err := f.windowSizes()
	if err != nil {
		return nil, err
	}
	s := &stack{log: log, topics: kafka.DefaultTopics(f.topicPrefix), windows: windows, failed: make(chan struct{}), nWorkers: f.workers,
		metrics: newStackMetrics()}
	s.metrics.procs = func() []*workerProc { return s.engines }
	// Each part's goroutines carry its stage label for the CPU profile
	// (cpuprofile.go): they inherit the label of the goroutine that
	// starts them, set before each part below.
	defer unlabelStage()
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	dataDir := f.dataDir
	if dataDir == "" {
		if s.tempDir, err = os.MkdirTemp("", "countlab-"); err != nil {
			return nil, err
		}
		dataDir = s.tempDir
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.runCtx, s.cancel = runCtx, cancel

	// Kafka.
	labelStage(reports.StageBroker)
	if f.brokers != "" {
		kf := kafkaFlags{brokers: f.brokers}
		if s.conn, err = kf.conn(); err != nil {
			return nil, err
		}
		if err := createTopics(ctx, s.conn, s.topics, int32(f.partitions), -1, f.retention); err != nil {
			return nil, err
		}
	} else if f.brokerProc {
		if s.brokerProc, err = startBrokerChild(ctx, f, filepath.Join(dataDir, "kafka"), s.fail); err != nil {
			return nil, err
		}
		s.conn = kafka.Conn{Brokers: []string{s.brokerProc.addr}}
	} else {
		b, err := broker.New(
			broker.Listen(strings.Split(f.brokerListen, ",")...),
			broker.DataDir(filepath.Join(dataDir, "kafka")),
			broker.Partitions(int32(f.partitions)),
			broker.Topics(s.topics),
			broker.Logger(log.With("part", "broker")),
			broker.Retention(f.retention, 0), // scenario retention (kafka.Retention; zero: keep everything)
		)
		if err != nil {
			return nil, err
		}
		s.broker = b
		s.conn = kafka.Conn{Brokers: b.Addrs()}
	}

	// InfluxDB.
	labelStage(reports.StageHarness) // managing influxd; the process is measured on its own
	if f.influxURL != "" {
		inf := influxFlags{url: f.influxURL, org: f.influxOrg, bucket: f.influxBucket}
		if s.influx, err = inf.config(); err != nil {
			return nil, err
		}
		if err := influxd.Ping(ctx, s.influx); err != nil {
			return nil, fmt.Errorf("influxdb at %s: %w", s.influx.URL, err)
		}
	} else {
		port, err := f.influxPort()
		if err != nil {
			return nil, err
		}
		srv, err := influxd.Start(ctx, influxd.DataDir(filepath.Join(dataDir, "influxdb")), influxd.Port(port), influxd.Logger(log.With("part", "influxd")))
		if err != nil {
			return nil, err
		}
		s.influxd = srv
		s.influx = srv.Config()
	}

	token, err := tokenFromEnv()
	if err != nil {
		return nil, usageError{err}
	}

	if f.netProxies {
		labelStage(reports.StageNetProxy)
		if s.net, err = startNetProxies(ctx, s.conn, s.influx.URL, log.With("part", "netproxy")); err != nil {
			return nil, err
		}
		f.engineBrokerMap = s.net.brokerMap
	}

	// Engine workers, then the sink: both consume from Kafka.
	labelStage(reports.StageEngine)
	ready := make([]<-chan struct{}, 0, f.workers)
	if f.engineProcs {
		bin, err := engineBinary()
		if err != nil {
			return nil, fmt.Errorf("--engine-procs: the countlab binary: %w", err)
		}
		s.scaler = newWorkerScaler(s, bin, f)
		for i := 0; i < f.workers; i++ {
			p := newWorkerProc(i, bin, workerProcArgs(f, s.conn.Brokers, i), nil)
			p.fail = s.restartWorkerProc(p)
			s.engines = append(s.engines, p)
			if err := p.start(ctx); err != nil {
				return nil, err
			}
		}
	}
	for i := 0; i < f.workers && !f.engineProcs; i++ {
		opts := []aggregate.Opt{
			aggregate.Conn(s.net.engineConn(s.conn)),
			aggregate.Topics(s.topics),
			aggregate.TopicPrefix(f.topicPrefix),
			// A stable id per worker slot: a restart on the same data dir fences
			// the previous run's open transaction at once.
			aggregate.TransactionalID(fmt.Sprintf("countlab-up-engine-%d", i)),
			aggregate.Windows(windows...),
			aggregate.AllowedLateness(f.lateness),
			aggregate.OutOfOrderness(f.outOfOrder),
			aggregate.CommitInterval(f.commitEvery),
			aggregate.SessionTimeout(f.sessionTimeout),
			aggregate.Logger(log.With("part", "engine", "worker", i)),
		}
		if f.atLeastOnce {
			opts = append(opts, aggregate.AtLeastOnce())
		}
		w, err := aggregate.New(opts...)
		if err != nil {
			return nil, err
		}
		ready = append(ready, w.Ready())
		s.metrics.setEngine(i, w.Gatherer())
		s.superviseEngine(runCtx, i, w, opts)
	}
	labelStage(reports.StageSink)
	sinkInflux := s.influx
	sinkInflux.URL = s.net.sinkInfluxURL(s.influx.URL)
	s.sinkReg = s.metrics.own // served with countlab's own, read by the CPU block (cpu.go)
	sk, err := sink.New(
		sink.Kafka(s.conn),
		sink.TopicPrefix(f.topicPrefix),
		sink.Influx(sinkInflux),
		sink.Logger(log), // the sink adds part=sink itself
		sink.Registerer(s.sinkReg),
	)
	if err != nil {
		return nil, err
	}
	s.sink = sk
	s.goRun("sink", sk.Run, runCtx)

	// Query service.
	labelStage(reports.StageQuery)
	qopts := []query.Opt{
		query.Kafka(s.conn),
		query.Topic(s.topics.Aggregates),
		query.Influx(s.influx),
		query.Windows(windows...),
		query.Logger(log.With("part", "query")),
	}
	if token != "" {
		qopts = append(qopts, query.Token(token))
	}
	q, err := query.New(qopts...)
	if err != nil {
		return nil, err
	}
	s.query = q
	var qh http.Handler = q
	if f.queryMiddleware != nil {
		qh = f.queryMiddleware(q)
	}
	if s.qAddr, err = s.serve(f.queryListen, qh); err != nil {
		return nil, fmt.Errorf("--query-listen: %w", err)
	}

	// Gateway last: accepting events means the pipeline is there.
	labelStage(reports.StageGateway)
	gopts := []gateway.Opt{
		gateway.Kafka(s.conn),
		gateway.Topics(s.topics),
		gateway.Logger(log.With("part", "gateway")),
	}
	if token != "" {
		gopts = append(gopts, gateway.Token(token))
	}
	gopts = append(gopts, f.gatewayCapacity()...) // overload.go
	gw, err := gateway.New(gopts...)
	if err != nil {
		return nil, err
	}
	s.gateway = gw
	if s.gwAddr, err = s.serve(f.gatewayListen, gw); err != nil {
		return nil, fmt.Errorf("--gateway-listen: %w", err)
	}
	s.metrics.addPart(q.Registry())
	s.metrics.addPart(gw.Registry())
	if err := s.countDeadLetters(runCtx, s.metrics.own); err != nil { // deadletters.go
		return nil, err
	}
	if s.metricsAddr, err = s.serve(f.metricsListen, metricsHandler(s.metrics)); err != nil {
		return nil, usagef("--metrics-listen: %v", err)
	}

	unlabelStage()
	waitCtx, waitCancel := context.WithTimeout(ctx, 60*time.Second)
	defer waitCancel()
	for _, r := range ready {
		select {
		case <-r:
		case <-waitCtx.Done():
			if err := s.firstErr(); err != nil {
				return nil, err
			}
			return nil, errors.New("engine did not become ready within 60s")
		}
	}
	if err := q.WaitReady(waitCtx); err != nil {
		return nil, fmt.Errorf("query service not ready: %w", err)
	}
	return s, nil
}

// goRun runs fn until the stack closes, recording an unexpected error.
func (s *stack) goRun(name string, fn func(context.Context) error, ctx context.Context) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		labelStage(name) // the CPU profile's stage (cpuprofile.go)
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			s.fail(fmt.Errorf("%s: %w", name, err))
		}
	}()
}

// fail records that a part stopped with err.
func (s *stack) fail(err error) {
	s.log.Error("stack part stopped", "err", err)
	s.errMu.Lock()
	defer s.errMu.Unlock()
	s.errs = append(s.errs, err)
	if len(s.errs) == 1 {
		close(s.failed)
	}
}

// superviseEngine runs an in-process engine worker until the stack closes
// and, as a process supervisor would, starts a new one (same transactional
// id: it fences the old one and restores the committed state) when Run
// stops with an error, such as a transaction the broker aborted on timeout
// under heavy load. Nothing is lost or counted twice by a restart; it is
// logged and counted in engineRestarts.
func (s *stack) superviseEngine(ctx context.Context, slot int, w *aggregate.Worker, opts []aggregate.Opt) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			err := w.Run(ctx)
			if ctx.Err() != nil {
				return
			}
			s.engineRestarts.Add(1)
			s.log.Warn("engine worker stopped; restarting it", "worker", slot, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			if w, err = aggregate.New(opts...); err != nil {
				s.fail(fmt.Errorf("engine worker %d: restart: %w", slot, err))
				return
			}
			s.metrics.setEngine(slot, w.Gatherer())
		}
	}()
}

// restartWorkerProc is the handler of worker process p's exits nobody
// asked for: like superviseEngine for in-process workers, it starts the
// process again a second later, as a process supervisor would. A zombie
// worker that was fenced (SIGSTOPped past its session timeout, its
// transaction aborted) exits with PRODUCER_FENCED when it resumes; its
// restart rejoins the group with a new producer epoch. Exactly-once holds
// across it: the aborted transaction's totals and offsets never landed.
// After maxProcRestarts restarts the stack fails instead.
func (s *stack) restartWorkerProc(p *workerProc) func(error) {
	return func(exit error) {
		if s.runCtx.Err() != nil {
			return
		}
		if n := s.engineRestarts.Add(1); n > maxProcRestarts {
			s.fail(fmt.Errorf("%w (after %d worker restarts)", exit, n-1))
			return
		}
		s.log.Warn("engine worker process exited; restarting it", "worker", p.slot, "err", exit)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			select {
			case <-s.runCtx.Done():
				return
			case <-time.After(time.Second):
			}
			if err := p.start(s.runCtx); err != nil && s.runCtx.Err() == nil {
				s.fail(fmt.Errorf("%s: restart after %v: %w", p.name, exit, err))
			}
		}()
	}
}

// maxProcRestarts bounds the worker-process restarts of one stack: a
// worker that keeps failing is a failure, not a fault to ride out.
const maxProcRestarts = 20

// stackFailed is closed when a part of st stops with an error.
func stackFailed(st *stack) <-chan struct{} { return st.failed }

// firstErr is the first error a part stopped with, or nil.
func (s *stack) firstErr() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if len(s.errs) == 0 {
		return nil
	}
	return s.errs[0]
}

// serve listens on addr and serves h until Close; it returns the address.
func (s *stack) serve(addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), nil
}

// Close stops every part, newest first, and removes temp data.
func (s *stack) Close() {
	for i := len(s.servers) - 1; i >= 0; i-- {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.servers[i].Shutdown(ctx)
		cancel()
	}
	if s.gateway != nil {
		_ = s.gateway.Close()
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.scaler != nil {
		s.scaler.stopAll()
	}
	s.wg.Wait() // after it, no worker process is being restarted
	var pwg sync.WaitGroup
	for _, p := range s.engines {
		pwg.Add(1)
		go func() { defer pwg.Done(); p.stop() }()
	}
	pwg.Wait()
	if s.query != nil {
		s.query.Close()
	}
	if s.sink != nil {
		s.sink.Close()
	}
	s.net.Close()
	if s.influxd != nil {
		if err := s.influxd.Stop(); err != nil {
			s.log.Warn("stop influxd", "err", err)
		}
	}
	if s.broker != nil {
		s.broker.Close()
	}
	if s.brokerProc != nil {
		s.brokerProc.stop()
	}
	if s.tempDir != "" {
		_ = os.RemoveAll(s.tempDir)
	}
}
