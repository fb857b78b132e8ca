package stack

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/harness"
)

// Opt configures a stack (New). Options apply in order: a later one
// overrides an earlier one.
type Opt func(*cfg)

// cfg is a stack's configuration; defaults in defaultCfg, checked by
// validate.
type cfg struct {
	brokerListen  []string
	kafka         kafka.Conn // Brokers set: an external cluster
	gatewayListen string
	queryListen   string
	metricsListen string
	influxListen  string
	influx        influx.Config // URL set: an external InfluxDB
	// brokerSASL is the login the embedded broker requires (BrokerSASL;
	// SASLMechanism "": none); influxUser and influxPassword turn on the
	// managed influxd's auth (InfluxAuth).
	brokerSASL                 kafka.Conn
	influxUser, influxPassword string
	dataDir                    string

	partitions     int
	workers        int
	windows        []time.Duration
	lateness       time.Duration
	outOfOrder     time.Duration
	commitEvery    time.Duration
	sessionTimeout time.Duration
	topicPrefix    string
	topicRetention kafka.Retention
	queryMemory    time.Duration
	retention      *rollup.Config // retention.go

	log      *slog.Logger
	logLevel slog.Level // of the child processes

	token           string
	insecureNoToken bool

	engineProcs bool
	brokerProc  bool
	netProxies  bool
	atLeastOnce bool
	plantBug    int

	gatewayRate        float64
	gatewayMaxInFlight int
	hotKeys            map[string]int // the gateway's, the workers' and reconcile's split keys
	queryMiddleware    func(http.Handler) http.Handler
	binary             string

	// enrichAttrs turns the attribute roll-up on; enrichDir holds the
	// workers' stores (enrich.go).
	enrichAttrs []string
	enrichDir   string
}

func defaultCfg() cfg {
	return cfg{
		brokerListen:  []string{"127.0.0.1:0"},
		gatewayListen: "127.0.0.1:0",
		queryListen:   "127.0.0.1:0",
		metricsListen: "127.0.0.1:0",
		influxListen:  "127.0.0.1:0",
		partitions:    4,
		workers:       1,
		windows:       []time.Duration{time.Minute},
		lateness:      aggregate.DefaultLateness,
		outOfOrder:    aggregate.DefaultOutOfOrderness,
		commitEvery:   aggregate.DefaultCommitInterval,
		log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		logLevel:      slog.LevelWarn,
	}
}

// BrokerListen is where the embedded broker listens, one or more
// host:port (port 0: a free port; the default 127.0.0.1:0). Ignored with
// Kafka.
func BrokerListen(addrs ...string) Opt { return func(c *cfg) { c.brokerListen = addrs } }

// Kafka makes the stack use this Kafka cluster instead of the embedded
// broker: brokers and the SASL/TLS settings of kafka.Conn, passed to every
// client the stack and its worker processes open. Its topics are created
// when missing.
func Kafka(conn kafka.Conn) Opt { return func(c *cfg) { c.kafka = conn } }

// BrokerSASL makes the embedded broker (in-process, or the BrokerProcess)
// require SASL: clients log in as user with password over mechanism
// (kafka.PLAIN, kafka.ScramSHA256, kafka.ScramSHA512), and every client
// of the stack and its worker processes does. Ignored with Kafka (whose
// kafka.Conn carries its own login).
func BrokerSASL(mechanism, user, password string) Opt {
	return func(c *cfg) {
		c.brokerSASL = kafka.Conn{SASLMechanism: strings.ToUpper(mechanism), SASLUser: user, SASLPassword: password}
	}
}

// InfluxAuth turns on the managed influxd's authentication with one
// admin user (influxd.Auth); the stack's clients log in as it. Ignored
// with Influx (whose influx.Config carries its own login).
func InfluxAuth(user, password string) Opt {
	return func(c *cfg) { c.influxUser, c.influxPassword = user, password }
}

// GatewayListen is the ingest gateway's address (default 127.0.0.1:0).
func GatewayListen(addr string) Opt { return func(c *cfg) { c.gatewayListen = addr } }

// QueryListen is the query service's address (default 127.0.0.1:0).
func QueryListen(addr string) Opt { return func(c *cfg) { c.queryListen = addr } }

// MetricsListen is where every part's metrics are served together
// (default 127.0.0.1:0).
func MetricsListen(addr string) Opt { return func(c *cfg) { c.metricsListen = addr } }

// InfluxListen is the managed influxd's address, 127.0.0.1:PORT (default
// port 0: a free one). Ignored with Influx.
func InfluxListen(addr string) Opt { return func(c *cfg) { c.influxListen = addr } }

// Influx makes the stack use this InfluxDB (2.x API) instead of a managed
// influxd.
func Influx(ic influx.Config) Opt { return func(c *cfg) { c.influx = ic } }

// DataDir keeps the broker's and the managed influxd's data in dir
// (default: a temp dir removed by Close).
func DataDir(dir string) Opt { return func(c *cfg) { c.dataDir = dir } }

// Partitions is the partitions of each topic the stack creates (default 4).
func Partitions(n int) Opt { return func(c *cfg) { c.partitions = n } }

// Workers is the engine aggregator workers (default 1).
func Workers(n int) Opt { return func(c *cfg) { c.workers = n } }

// Windows are the tumbling window sizes, each a whole number of seconds
// (default 1m).
func Windows(sizes ...time.Duration) Opt { return func(c *cfg) { c.windows = sizes } }

// Lateness is the allowed lateness after a window's end (default 15s; 0:
// none).
func Lateness(d time.Duration) Opt { return func(c *cfg) { c.lateness = d } }

// OutOfOrderness is the watermark's bounded out-of-orderness (default 5s;
// 0: none).
func OutOfOrderness(d time.Duration) Opt { return func(c *cfg) { c.outOfOrder = d } }

// CommitInterval is the engine's transaction commit interval while a
// worker keeps up (default aggregate.DefaultCommitInterval, 250ms, as
// countlab engine and a scenario's engine section).
func CommitInterval(d time.Duration) Opt { return func(c *cfg) { c.commitEvery = d } }

// SessionTimeout is the engine workers' group session timeout (0: the
// client default); a broker accepts 6s..5m by default.
func SessionTimeout(d time.Duration) Opt { return func(c *cfg) { c.sessionTimeout = d } }

// TopicPrefix prefixes every topic name (for shared clusters).
func TopicPrefix(p string) Opt { return func(c *cfg) { c.topicPrefix = p } }

// QueryMemory is how far back the query service keeps window totals in
// memory (query.Retention; 0: its default); older ranges are read from
// InfluxDB.
func QueryMemory(d time.Duration) Opt { return func(c *cfg) { c.queryMemory = d } }

// TopicRetention bounds the topics by time (kafka.Retention; zero fields
// keep everything, the default): the embedded broker enforces it, and it
// is set on the topics created on an external cluster. Its events may be
// given by Retention's events instead (retention.go).
func TopicRetention(r kafka.Retention) Opt { return func(c *cfg) { c.topicRetention = r } }

// Logger is where every part logs (default: nowhere); level is passed
// to the child processes as their --log-level.
func Logger(l *slog.Logger, level slog.Level) Opt {
	return func(c *cfg) { c.log, c.logLevel = l, level }
}

// Token is the bearer token the gateway and the query service require
// ("" : none).
func Token(t string) Opt { return func(c *cfg) { c.token = t } }

// InsecureNoToken allows a gateway or query address other hosts can reach
// without a token.
func InsecureNoToken(ok bool) Opt { return func(c *cfg) { c.insecureNoToken = ok } }

// EngineProcesses runs the engine workers as `countlab engine` child
// processes (which faults can SIGKILL and SIGSTOP), supervised: an exit
// nobody asked for is restarted a second later.
func EngineProcesses(on bool) Opt { return func(c *cfg) { c.engineProcs = on } }

// BrokerProcess runs the embedded broker as a `countlab broker` child
// process on a fixed port (broker-crash kills and restarts it).
func BrokerProcess(on bool) Opt { return func(c *cfg) { c.brokerProc = on } }

// NetProxies routes the engine's broker connections and the sink's
// InfluxDB connections through in-process proxies (network faults).
func NetProxies(on bool) Opt { return func(c *cfg) { c.netProxies = on } }

// AtLeastOnceUNSAFE (TEST ONLY) runs every engine worker with
// aggregate.AtLeastOnce: no transactions, no dedup restore, so a crash
// double counts.
func AtLeastOnceUNSAFE(on bool) Opt { return func(c *cfg) { c.atLeastOnce = on } }

// PlantBugUNSAFE (TEST ONLY) adds an in-process engine worker with
// aggregate.PlantBug(n) to the consumer group (0: none).
func PlantBugUNSAFE(n int) Opt { return func(c *cfg) { c.plantBug = n } }

// GatewayCapacity caps the gateway's admission: events a second and
// requests in flight (0: no cap).
func GatewayCapacity(eventsPerS float64, maxInFlight int) Opt {
	return func(c *cfg) { c.gatewayRate, c.gatewayMaxInFlight = eventsPerS, maxInFlight }
}

// HotKeys splits counted keys over several partitions, key -> n, in the
// gateway, every engine worker (in process or not) and the reconcile
// (gateway.HotKeys, aggregate.HotKeys: one map for all of them, as they
// must share it). Default: none.
func HotKeys(m map[string]int) Opt {
	return func(c *cfg) { c.hotKeys = maps.Clone(m) }
}

// QueryMiddleware wraps the query service's handler (TEST ONLY: planted
// regressions).
func QueryMiddleware(m func(http.Handler) http.Handler) Opt {
	return func(c *cfg) { c.queryMiddleware = m }
}

// Binary is the countlab binary the child processes run (default: this
// process's executable; tests point it at a built countlab).
func Binary(path string) Opt { return func(c *cfg) { c.binary = path } }

// Session timeouts a Kafka broker accepts by default
// (group.min.session.timeout.ms, group.max.session.timeout.ms; kfake's
// too).
const (
	MinSessionTimeout = 6 * time.Second
	MaxSessionTimeout = 5 * time.Minute
)

// validate checks the configuration once, before anything starts.
func (c *cfg) validate() error {
	bad := func(format string, a ...any) error { return harness.Configf("stack: "+format, a...) }
	if c.partitions < 1 {
		return bad("partitions must be at least 1, got %d", c.partitions)
	}
	if c.workers < 1 {
		return bad("workers must be at least 1, got %d", c.workers)
	}
	if len(c.windows) == 0 {
		return bad("give at least one window size")
	}
	for _, w := range c.windows {
		if w < time.Second || w%time.Second != 0 {
			return bad("window %s is not a whole number of seconds", w)
		}
	}
	if c.lateness < 0 || c.outOfOrder < 0 || c.commitEvery <= 0 {
		return bad("lateness %s, out-of-orderness %s, commit interval %s: want >= 0, >= 0 and > 0", c.lateness, c.outOfOrder, c.commitEvery)
	}
	if st := c.sessionTimeout; st != 0 && (st < MinSessionTimeout || st > MaxSessionTimeout) {
		return bad("session timeout %s is outside what a broker accepts by default (%s..%s)", st, MinSessionTimeout, MaxSessionTimeout)
	}
	for name, addr := range map[string]string{"gateway": c.gatewayListen, "query": c.queryListen, "metrics": c.metricsListen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return bad("%s address %q is not host:port (%v)", name, addr, err)
		}
	}
	if c.influx.URL != "" && c.influx.Bucket == "" {
		return bad("an external InfluxDB needs a bucket (on InfluxDB 1.8 it is db/rp)")
	}
	if c.influx.URL == "" {
		if _, err := ManagedInfluxPort(c.influxListen); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.hotKeys)) { // more ways than partitions is allowed: a scenario's split under a --partitions override
		if n := c.hotKeys[k]; k == "" || n < 2 {
			return bad("hot key %q split %d ways: give a key and at least 2 ways", k, n)
		}
	}
	if err := c.validateEnrich(); err != nil { // enrich.go
		return err
	}
	if err := c.resolveEventsRetention(); err != nil { // retention.go
		return err
	}
	if !c.externalKafka() && c.brokerSASL.SASLMechanism != "" {
		v := c.brokerSASL
		v.Brokers = []string{"-"}
		if err := v.Validate(); err != nil {
			return bad("embedded broker SASL: %v", err)
		}
	}
	if c.influx.URL == "" && (c.influxUser == "") != (c.influxPassword == "") {
		return bad("the managed influxd's auth needs a user and a password (--influx-user and its password)")
	}
	if c.brokerProc && len(c.kafka.Brokers) == 0 && len(c.brokerListen) != 1 {
		return bad("broker-crash runs one broker process: the broker listens on one host:port, got %v", c.brokerListen)
	}
	for _, l := range []struct{ what, addr string }{{"--gateway-listen", c.gatewayListen}, {"--query-listen", c.queryListen}} {
		if err := CheckExposure(l.what, l.addr, c.token, c.insecureNoToken); err != nil {
			return err
		}
	}
	return nil
}

// external reports whether the stack uses an external Kafka cluster.
func (c *cfg) externalKafka() bool { return len(c.kafka.Brokers) > 0 }

// bin is the countlab binary of the child processes.
func (c *cfg) bin() (string, error) {
	if c.binary != "" {
		return c.binary, nil
	}
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("the countlab binary: %w", err)
	}
	return p, nil
}
