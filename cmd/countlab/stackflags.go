package main

// The flags of every command that starts the embedded stack (up, run,
// plan): where each part listens, or which external cluster and InfluxDB
// to use instead of the embedded ones. They become harness/stack options
// (and harness/run options): the library holds the configuration, this
// file only parses it.

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/harness/stack"
)

// stackFlags are the stack commands' flags.
type stackFlags struct {
	brokerListen  string
	kafka         kafkaFlags  // --brokers (optional here), --sasl-*, --tls* (stacksecure.go)
	influx        influxFlags // --influx-url (optional here), --influx-org, --influx-bucket, the login
	gatewayListen string
	queryListen   string
	dataDir       string
	partitions    int
	workers       int
	windows       string
	lateness      time.Duration
	outOfOrder    time.Duration
	commitEvery   time.Duration
	topicPrefix   string
	logLevel      string
	// metricsListen is where every part's metrics are served together;
	// influxListen the managed influxd's HTTP address; insecureNoToken
	// allows a non-loopback gateway or query address without
	// COUNTLAB_TOKEN.
	metricsListen   string
	influxListen    string
	insecureNoToken bool
	engineProcs     bool
	netProxies      bool
	enrich          string // --enrich (enrich.go)

	fs *flag.FlagSet // where they are registered: which were given
}

func (f *stackFlags) register(fs *flag.FlagSet, fixedPorts bool) {
	f.fs = fs
	bl, gl, ql := "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if fixedPorts {
		bl, gl, ql = "127.0.0.1:9092", "127.0.0.1:8080", "127.0.0.1:8081"
	}
	f.registerEnrich(fs) // enrich.go
	fs.StringVar(&f.brokerListen, "broker-listen", bl, "embedded broker address(es), host:port[,host:port...] (port 0: a free port)")
	f.kafka.register(fs)
	fs.Lookup("brokers").Usage = "use this Kafka cluster (host:port[,...]) instead of the embedded broker"
	fs.StringVar(&f.gatewayListen, "gateway-listen", gl, "ingest gateway address, host:port")
	fs.StringVar(&f.queryListen, "query-listen", ql, "query service address, host:port")
	fs.StringVar(&f.dataDir, "data-dir", "", "keep broker and InfluxDB data here (default: a temp dir removed at exit)")
	fs.IntVar(&f.partitions, "partitions", 4, "partitions of each topic the stack creates")
	fs.IntVar(&f.workers, "workers", 1, "engine aggregator workers (consumer-group members)")
	fs.StringVar(&f.windows, "windows", "1m", "tumbling window sizes, comma-separated (e.g. 10s,1m,1h)")
	fs.DurationVar(&f.lateness, "lateness", aggregate.DefaultLateness, "allowed lateness after a window's end")
	fs.DurationVar(&f.outOfOrder, "out-of-orderness", aggregate.DefaultOutOfOrderness, "bounded out-of-orderness of the watermark")
	fs.DurationVar(&f.commitEvery, "commit-interval", aggregate.DefaultCommitInterval, "engine transaction commit interval")
	fs.StringVar(&f.topicPrefix, "topic-prefix", "", "prefix of every topic name (for shared clusters)")
	f.influx.register(fs)
	fs.Lookup("influx-url").Usage = "use this InfluxDB (2.x API) instead of a managed influxd; token from COUNTLAB_INFLUX_TOKEN[_FILE]"
	fs.StringVar(&f.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	fs.BoolVar(&f.netProxies, "net-proxies", false, "route the engine's broker connections and the sink's InfluxDB connections through in-process toxiproxy proxies (a run with network faults does)")
	fs.BoolVar(&f.engineProcs, "engine-procs", false, "run the engine workers as countlab engine processes, which faults can SIGKILL and SIGSTOP (a run with worker faults does)")
	fs.StringVar(&f.metricsListen, "metrics-listen", "127.0.0.1:0", "serve every part's Prometheus metrics (engine, sink, gateway, query) on http://ADDR/metrics, host:port (port 0: a free port; printed at start-up)")
	fs.StringVar(&f.influxListen, "influx-listen", "127.0.0.1:0", "the managed influxd's HTTP address, 127.0.0.1:PORT (port 0: a free port; ignored with --influx-url)")
	registerInsecureNoToken(fs, &f.insecureNoToken)
}

// registerInsecureNoToken adds --insecure-no-token to fs.
func registerInsecureNoToken(fs *flag.FlagSet, p *bool) {
	fs.BoolVar(p, "insecure-no-token", false, "allow a gateway or query address other hosts can reach without COUNTLAB_TOKEN (anyone who reaches it can send or read events)")
}

// parse parses args into fs (where f is registered) and validates f.
func (f *stackFlags) parse(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return f.validate()
}

// given reports whether flag name was given on the command line.
func (f *stackFlags) given(name string) bool {
	set := false
	if f.fs != nil {
		f.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	}
	return set
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
	if err := f.validateSecurity(); err != nil { // stacksecure.go
		return err
	}
	if _, err := parseWindows("windows", f.windows); err != nil {
		return err
	}
	if _, err := parseLogLevel(f.logLevel); err != nil {
		return err
	}
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
	if _, err := stack.ManagedInfluxPort(f.influxListen); err != nil {
		return err
	}
	token, err := tokenFromEnv()
	if err != nil {
		return usagef("%v", err)
	}
	for _, l := range []struct{ flag, addr string }{{"--gateway-listen", f.gatewayListen}, {"--query-listen", f.queryListen}} {
		if err := stack.CheckExposure(l.flag, l.addr, token, f.insecureNoToken); err != nil {
			return err
		}
	}
	return nil
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

// engineFlags are the flags a scenario's engine section also sets: given
// on the command line, they override it.
var engineFlags = map[string]bool{"partitions": true, "workers": true, "windows": true, "lateness": true,
	"out-of-orderness": true, "commit-interval": true, "engine-procs": true, "net-proxies": true}

// markScenarioOverrides says, in the usage of each engine flag, that a
// scenario's engine section sets it unless the flag is given
// (countlab run; see options).
func (f *stackFlags) markScenarioOverrides() {
	for name := range engineFlags {
		if fl := f.fs.Lookup(name); fl != nil {
			fl.Usage += " (the scenario's engine section sets it; given, the flag overrides that)"
		}
	}
}

// options are the stack options of the flags, logging to log. With
// onlyGiven, the engine flags not given on the command line are left
// out (the scenario's engine section sets them).
func (f *stackFlags) options(log *slog.Logger, onlyGiven bool) ([]stack.Opt, error) {
	level, _ := parseLogLevel(f.logLevel)
	token, err := tokenFromEnv()
	if err != nil {
		return nil, usagef("%v", err)
	}
	opts := []stack.Opt{
		stack.BrokerListen(splitList(f.brokerListen)...),
		stack.GatewayListen(f.gatewayListen),
		stack.QueryListen(f.queryListen),
		stack.MetricsListen(f.metricsListen),
		stack.InfluxListen(f.influxListen),
		stack.DataDir(f.dataDir),
		stack.Logger(log, level),
		stack.Token(token),
		stack.InsecureNoToken(f.insecureNoToken),
	}
	if bin, err := engineBinary(); err == nil {
		opts = append(opts, stack.Binary(bin))
	}
	windows, err := parseWindows("windows", f.windows)
	if err != nil {
		return nil, err
	}
	for name, o := range map[string]stack.Opt{
		"partitions":       stack.Partitions(f.partitions),
		"workers":          stack.Workers(f.workers),
		"windows":          stack.Windows(windows...),
		"lateness":         stack.Lateness(f.lateness),
		"out-of-orderness": stack.OutOfOrderness(f.outOfOrder),
		"commit-interval":  stack.CommitInterval(f.commitEvery),
		"engine-procs":     stack.EngineProcesses(f.engineProcs),
		"net-proxies":      stack.NetProxies(f.netProxies),
	} {
		if !onlyGiven || f.given(name) {
			opts = append(opts, o)
		}
	}
	if !onlyGiven || f.given("topic-prefix") {
		opts = append(opts, stack.TopicPrefix(f.topicPrefix))
	}
	opts = append(opts, f.enrichOptions()...) // enrich.go
	sec, err := f.securityOptions()           // stacksecure.go: the external targets, or the embedded ones' login
	if err != nil {
		return nil, err
	}
	return append(opts, sec...), nil
}

// runOptions are the run options of the flags: the stack's (engine flags
// only when given), the external targets, the token, the logger.
func (f *stackFlags) runOptions(logw io.Writer) ([]run.Opt, error) {
	log := f.logger(logw)
	sopts, err := f.options(log, true)
	if err != nil {
		return nil, err
	}
	token, _ := tokenFromEnv()
	opts := []run.Opt{run.Stack(sopts...), run.Token(token), run.Logger(log), run.Provenance(provenance()),
		run.IsolateKeys(f.dataDir != "")}
	if f.kafka.BrokersGiven() {
		conn, err := f.kafka.conn()
		if err != nil {
			return nil, err
		}
		opts = append(opts, run.Kafka(conn))
	}
	if f.influx.URLGiven() {
		ic, err := f.influx.config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, run.Influx(ic))
	}
	if f.given("topic-prefix") {
		opts = append(opts, run.TopicPrefix(f.topicPrefix))
	}
	return opts, nil
}

// splitList splits a list flag (commas and/or spaces).
func splitList(s string) []string { return strings.FieldsFunc(s, listSep) }

// engineBinary is the countlab binary the stack runs its child processes
// from (tests point it at a built binary: theirs is the test binary).
var engineBinary = os.Executable

// startStack starts the embedded stack of the flags (every flag, given
// or not), logging to log, with extra after the flags' options (up's
// --hot-key).
func startStack(ctx context.Context, f *stackFlags, log *slog.Logger, extra ...stack.Opt) (*stack.Stack, error) {
	opts, err := f.options(log, false)
	if err != nil {
		return nil, err
	}
	return stack.New(ctx, append(opts, extra...)...)
}
