package broker

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/countlab/countlab/engine/kafka"
)

// DefaultPartitions is the partition count of the seeded topics unless
// Partitions says otherwise.
const DefaultPartitions = 4

// Opt configures a Broker.
type Opt interface{ apply(*cfg) }

type opt struct{ fn func(*cfg) }

func (o opt) apply(c *cfg) { o.fn(c) }

type cfg struct {
	listen     []string
	dataDir    string
	partitions int32
	topics     kafka.Topics
	logger     *slog.Logger
	syncWrites bool
	kfakeOpts  []kfake.Opt
	// retention.go
	retention    kafka.Retention
	cleanerEvery time.Duration
	// sasl is the user clients must log in as (SASL); SASLMechanism ""
	// when SASL is off.
	sasl kafka.Conn
}

func defaultCfg() cfg {
	return cfg{
		listen:     []string{"127.0.0.1:0"},
		partitions: DefaultPartitions,
		topics:     kafka.DefaultTopics(""),
		logger:     slog.New(slog.DiscardHandler),
	}
}

// Listen sets the addresses to listen on, host:port each, one broker per
// address. Port 0 picks a free port. An empty host means 127.0.0.1; an
// unspecified host (0.0.0.0, ::) is refused: the broker never listens on
// every interface. The default is one broker on 127.0.0.1:0.
func Listen(addrs ...string) Opt {
	return opt{func(c *cfg) { c.listen = append([]string(nil), addrs...) }}
}

// DataDir turns on persistence to dir (created if needed): every produced
// batch, group offset commit and transaction state change is written to
// files in dir before it is acknowledged, so it survives a kill -9 of the
// process, and New with the same dir reloads it. Without DataDir the
// broker keeps everything in memory.
func DataDir(dir string) Opt { return opt{func(c *cfg) { c.dataDir = dir }} }

// SyncWrites makes persistence fsync every batch and state entry before
// acknowledging it, so acknowledged data also survives a machine crash or
// power loss, not just a process kill. It costs produce throughput.
func SyncWrites() Opt { return opt{func(c *cfg) { c.syncWrites = true }} }

// Partitions sets the partition count of the topics the broker seeds
// (DefaultPartitions by default). Topics that already exist in a reloaded
// data dir keep their partition count.
func Partitions(n int32) Opt { return opt{func(c *cfg) { c.partitions = n }} }

// Topics sets the topics the broker seeds, kafka.DefaultTopics("") by
// default.
func Topics(t kafka.Topics) Opt { return opt{func(c *cfg) { c.topics = t }} }

// Logger sets where the broker logs; kfake's own log lines go to it at
// their level (kfake's info level is per request, so it is logged at
// debug). The default discards everything.
func Logger(l *slog.Logger) Opt { return opt{func(c *cfg) { c.logger = l }} }

// KfakeOpts passes raw kfake options through, after the broker's own
// (for example kfake.BrokerConfigs or kfake.SeedTopics). Options that set
// ports, the listener, the data dir or the logger override the broker's
// and break its guarantees: pass them only if you mean it.
func KfakeOpts(opts ...kfake.Opt) Opt {
	return opt{func(c *cfg) { c.kfakeOpts = append(c.kfakeOpts, opts...) }}
}

// SASL makes the broker require SASL: clients must log in as user with
// password over mechanism (kafka.PLAIN, kafka.ScramSHA256 or
// kafka.ScramSHA512); nothing else is served before that. The broker's own
// client (creating the topics) logs in the same way, and Conn carries the
// login for the broker's clients.
func SASL(mechanism, user, password string) Opt {
	return opt{func(c *cfg) {
		c.sasl = kafka.Conn{SASLMechanism: strings.ToUpper(mechanism), SASLUser: user, SASLPassword: password}
	}}
}

// listenAddr is one parsed Listen address.
type listenAddr struct {
	host string
	port int
}

func (c *cfg) validate() ([]listenAddr, error) {
	if len(c.listen) == 0 {
		return nil, fmt.Errorf("broker: no listen address (give at least one host:port, e.g. 127.0.0.1:9092)")
	}
	if c.partitions <= 0 {
		return nil, fmt.Errorf("broker: partitions must be > 0, got %d", c.partitions)
	}
	if c.logger == nil {
		return nil, fmt.Errorf("broker: nil logger")
	}
	for _, t := range c.topics.All() {
		if t == "" {
			return nil, fmt.Errorf("broker: empty topic name in %+v", c.topics)
		}
	}
	if c.sasl.SASLMechanism != "" || c.sasl.SASLUser != "" || c.sasl.SASLPassword != "" {
		v := c.sasl
		v.Brokers = []string{"-"}
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("broker: SASL: %w", err)
		}
	}
	seen := make(map[string]bool)
	out := make([]listenAddr, 0, len(c.listen))
	for _, a := range c.listen {
		la, err := parseListen(a)
		if err != nil {
			return nil, err
		}
		if la.port != 0 {
			k := net.JoinHostPort(la.host, strconv.Itoa(la.port))
			if seen[k] {
				return nil, fmt.Errorf("broker: listen address %s given twice (one broker per address)", k)
			}
			seen[k] = true
		}
		out = append(out, la)
	}
	return out, nil
}

// CheckListen reports whether addrs are acceptable Listen addresses, with
// the same error New would give.
func CheckListen(addrs ...string) error {
	c := defaultCfg()
	c.listen = addrs
	_, err := c.validate()
	return err
}

func parseListen(a string) (listenAddr, error) {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return listenAddr{}, fmt.Errorf("broker: listen address %q: %v (want host:port, e.g. 127.0.0.1:9092)", a, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return listenAddr{}, fmt.Errorf("broker: listen address %q: port %q is not a number 0..65535", a, port)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return listenAddr{}, fmt.Errorf("broker: listen address %q listens on every interface; give a loopback or specific address (e.g. 127.0.0.1:%d)", a, p)
	}
	return listenAddr{host: host, port: p}, nil
}
