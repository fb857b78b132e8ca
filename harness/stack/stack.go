// Package stack starts and closes countlab's embedded reference stack: the
// Kafka broker (kfake, in-process or as a `countlab broker` child process)
// or an external cluster, a managed influxd or an external InfluxDB, the
// ingest gateway, the engine workers (in-process or as supervised
// `countlab engine` child processes), the sink, the query service, the
// network proxies of the network faults, and one consumer-lag reader
// shared by everything that samples lag.
//
//	st, err := stack.New(ctx, stack.Partitions(4), stack.Workers(2), stack.Windows(time.Minute))
//	defer st.Close()
//
// A Stack is the faults.Target of the faults (Target) and the source of
// the probes (Processes, Lag, GatewayMetrics).
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
	"github.com/countlab/countlab/harness"
	"github.com/countlab/countlab/reports"
)

// Stack is a running pipeline: broker (or an external cluster), InfluxDB
// (managed or external), gateway, engine workers, sink and query service.
// Its methods are safe for concurrent use.
type Stack struct {
	cfg     cfg
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
	lag         *LagReader

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

// New starts every part and returns once each is serving. On error, what
// was started is stopped again; a bad configuration is a
// harness.ConfigError.
func New(ctx context.Context, opts ...Opt) (_ *Stack, err error) {
	c := defaultCfg()
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	f := &c
	log, windows := c.log, c.windows
	s := &Stack{cfg: c, log: log, topics: kafka.DefaultTopics(f.topicPrefix), windows: windows, failed: make(chan struct{}), nWorkers: f.workers,
		metrics: newStackMetrics()}
	s.metrics.procs = func() []*workerProc { return s.engines }
	// Each part's goroutines carry its stage label for the CPU profile
	// (cpuprofile.go): they inherit the label of the goroutine that
	// starts them, set before each part below.
	defer UnlabelStage()
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
	LabelStage(reports.StageBroker)
	if f.externalKafka() {
		s.conn = f.kafka
		if err := createTopics(ctx, s.conn, s.topics, int32(f.partitions), f.topicRetention); err != nil {
			return nil, err
		}
	} else if f.brokerProc {
		if s.brokerProc, err = startBrokerChild(ctx, f, filepath.Join(dataDir, "kafka"), s.fail); err != nil {
			return nil, err
		}
		s.conn = s.brokerProc.conn
	} else {
		bopts := []broker.Opt{
			broker.Listen(f.brokerListen...),
			broker.DataDir(filepath.Join(dataDir, "kafka")),
			broker.Partitions(int32(f.partitions)),
			broker.Topics(s.topics),
			broker.Logger(log.With("part", "broker")),
			broker.Retention(f.topicRetention, 0), // zero: keep everything
		}
		if l := f.brokerSASL; l.SASLMechanism != "" {
			bopts = append(bopts, broker.SASL(l.SASLMechanism, l.SASLUser, l.SASLPassword))
		}
		b, err := broker.New(bopts...)
		if err != nil {
			return nil, err
		}
		s.broker = b
		s.conn = b.Conn() // with the SASL login when BrokerSASL
	}

	// InfluxDB.
	LabelStage(reports.StageHarness) // managing influxd; the process is measured on its own
	if f.influx.URL != "" {
		s.influx = f.influx
		if err := influxd.Ping(ctx, s.influx); err != nil {
			return nil, fmt.Errorf("influxdb at %s: %w", s.influx.URL, err)
		}
	} else {
		port, err := ManagedInfluxPort(f.influxListen)
		if err != nil {
			return nil, err
		}
		iopts := []influxd.Opt{influxd.DataDir(filepath.Join(dataDir, "influxdb")), influxd.Port(port), influxd.Logger(log.With("part", "influxd"))}
		if f.influxUser != "" {
			iopts = append(iopts, influxd.Auth(f.influxUser, f.influxPassword))
		}
		srv, err := influxd.Start(ctx, iopts...)
		if err != nil {
			return nil, err
		}
		s.influxd = srv
		s.influx = srv.Config()
	}

	token := f.token

	if f.netProxies {
		LabelStage(reports.StageNetProxy)
		if s.net, err = startNetProxies(ctx, s.conn, s.influx.URL, log.With("part", "netproxy")); err != nil {
			return nil, err
		}
	}

	// Engine workers, then the sink: both consume from Kafka.
	LabelStage(reports.StageEngine)
	if err := s.ensureEnrich(ctx, dataDir); err != nil { // enrich.go
		return nil, err
	}
	ready := make([]<-chan struct{}, 0, f.workers)
	if f.engineProcs {
		bin, err := f.bin()
		if err != nil {
			return nil, fmt.Errorf("engine worker processes: %w", err)
		}
		s.scaler = newWorkerScaler(s, bin)
		for i := 0; i < f.workers; i++ {
			p := newWorkerProc(i, bin, s.workerArgs(i), s.childEnv(), nil)
			p.fail = s.restartWorkerProc(p)
			s.engines = append(s.engines, p)
			if err := p.start(ctx); err != nil {
				return nil, err
			}
		}
	}
	for i := 0; i < f.workers && !f.engineProcs; i++ {
		opts := s.workerOpts(i)
		eo, err := s.enrichOpts(i) // enrich.go
		if err != nil {
			return nil, err
		}
		opts = append(opts, eo...)
		w, err := aggregate.New(opts...)
		if err != nil {
			return nil, err
		}
		ready = append(ready, w.Ready())
		s.metrics.setEngine(i, w.Gatherer())
		s.superviseEngine(runCtx, i, w, opts)
	}
	LabelStage(reports.StageSink)
	sinkInflux := s.influx
	sinkInflux.URL = s.net.sinkInfluxURL(s.influx.URL)
	s.sinkReg = s.metrics.own // served with countlab's own, read by the CPU block (cpu.go)
	sk, err := sink.New(append([]sink.Opt{
		sink.Kafka(s.conn),
		sink.TopicPrefix(f.topicPrefix),
		sink.Influx(sinkInflux),
		sink.Logger(log), // the sink adds part=sink itself
		sink.Registerer(s.sinkReg),
	}, f.sinkOpts()...)...)
	if err != nil {
		return nil, err
	}
	s.sink = sk
	s.goRun("sink", sk.Run, runCtx)
	if err := s.startEnrichSink(sinkInflux); err != nil {
		return nil, err
	}

	// Query service.
	LabelStage(reports.StageQuery)
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
	qopts = append(qopts, s.enrichQueryOpts()...)
	qopts = append(qopts, f.queryOpts()...) // retention.go
	if f.queryMemory > 0 {
		qopts = append(qopts, query.Retention(f.queryMemory))
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
		return nil, harness.Configf("--query-listen: %v", err)
	}

	// Gateway last: accepting events means the pipeline is there.
	LabelStage(reports.StageGateway)
	gopts := []gateway.Opt{
		gateway.Kafka(s.conn),
		gateway.Topics(s.topics),
		gateway.Logger(log.With("part", "gateway")),
	}
	if token != "" {
		gopts = append(gopts, gateway.Token(token))
	}
	gopts = append(gopts, f.gatewayConfig()...) // workers.go
	gopts = append(gopts, s.enrichGatewayOpts()...)
	gw, err := gateway.New(gopts...)
	if err != nil {
		return nil, err
	}
	s.gateway = gw
	if s.gwAddr, err = s.serve(f.gatewayListen, gw); err != nil {
		return nil, harness.Configf("--gateway-listen: %v", err)
	}
	s.metrics.addPart(q.Registry())
	s.metrics.addPart(gw.Registry())
	// One observer client for the lag and the dead letters (deadletters.go).
	obs, err := s.conn.NewClient(s.observerOpts()...)
	if err != nil {
		return nil, err
	}
	s.lag = lagReaderOn(obs, s.topics)
	if err := s.countDeadLetters(runCtx, obs, s.metrics.own); err != nil {
		return nil, err
	}
	if s.metricsAddr, err = s.serve(f.metricsListen, MetricsHandler(s.metrics)); err != nil {
		return nil, harness.Configf("--metrics-listen: %v", err)
	}
	if f.plantBug > 0 {
		if ready, err = s.addBuggyWorker(runCtx, ready); err != nil {
			return nil, err
		}
	}

	UnlabelStage()
	waitCtx, waitCancel := context.WithTimeout(ctx, 60*time.Second)
	defer waitCancel()
	for _, r := range ready {
		select {
		case <-r:
		case <-waitCtx.Done():
			if err := s.Err(); err != nil {
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
func (s *Stack) goRun(name string, fn func(context.Context) error, ctx context.Context) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		LabelStage(name) // the CPU profile's stage (cpuprofile.go)
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			s.fail(fmt.Errorf("%s: %w", name, err))
		}
	}()
}

// fail records that a part stopped with err.
func (s *Stack) fail(err error) {
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
func (s *Stack) superviseEngine(ctx context.Context, slot int, w *aggregate.Worker, opts []aggregate.Opt) {
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
func (s *Stack) restartWorkerProc(p *workerProc) func(error) {
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

// Failed is closed when a part of the stack stops with an error.
func (s *Stack) Failed() <-chan struct{} { return s.failed }

// Err is the first error a part stopped with, or nil.
func (s *Stack) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if len(s.errs) == 0 {
		return nil
	}
	return s.errs[0]
}

// serve listens on addr and serves h until Close; it returns the address.
func (s *Stack) serve(addr string, h http.Handler) (string, error) {
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
func (s *Stack) Close() {
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
	s.lag.Close()
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
