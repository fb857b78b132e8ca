package sink

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/rollup"
)

// DefaultGroup is the sink's consumer group.
const DefaultGroup = "countlab-sink"

// DeadLetterTopic is the sink's dead-letter topic for a topic prefix:
// totals InfluxDB rejected permanently wait there to be replayed.
func DeadLetterTopic(prefix string) string { return prefix + "sink-dead-letter" }

// Opt configures a Sink.
type Opt interface{ apply(*cfg) }

type opt func(*cfg)

func (o opt) apply(c *cfg) { o(c) }

type cfg struct {
	conn       kafka.Conn
	kgoOpts    []kgo.Opt
	topics     kafka.Topics
	deadLetter string
	group      string

	influx influx.Config
	rollup *rollup.Config // retention.go

	maxPoll      int
	writeBatch   int
	writeTimeout time.Duration
	pingTimeout  time.Duration

	backoffBase      time.Duration
	backoffMax       time.Duration
	breakerThreshold int
	probeInterval    time.Duration

	deadLetterPartitions int32

	logger     *slog.Logger
	registerer prometheus.Registerer
}

func defaultCfg() cfg {
	return cfg{
		topics:               kafka.DefaultTopics(""),
		deadLetter:           DeadLetterTopic(""),
		group:                DefaultGroup,
		influx:               influx.Config{Bucket: "countlab/autogen"},
		maxPoll:              10000,
		writeBatch:           5000,
		writeTimeout:         10 * time.Second,
		pingTimeout:          2 * time.Second,
		backoffBase:          100 * time.Millisecond,
		backoffMax:           5 * time.Second,
		breakerThreshold:     3,
		probeInterval:        500 * time.Millisecond,
		deadLetterPartitions: 1,
		logger:               slog.New(slog.DiscardHandler),
	}
}

func (c *cfg) validate() error {
	if len(c.conn.Brokers) == 0 {
		return errors.New("sink: no Kafka brokers (use Kafka)")
	}
	if err := c.influx.Validate(); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	if c.rollup != nil {
		if err := c.rollup.Validate(); err != nil {
			return fmt.Errorf("sink: retention: %w", err)
		}
	}
	switch {
	case c.group == "":
		return errors.New("sink: empty consumer group")
	case c.maxPoll <= 0, c.writeBatch <= 0:
		return errors.New("sink: batch sizes must be > 0")
	case c.writeTimeout <= 0, c.pingTimeout <= 0:
		return errors.New("sink: timeouts must be > 0")
	case c.backoffBase <= 0, c.backoffMax < c.backoffBase:
		return errors.New("sink: backoff needs 0 < base <= max")
	case c.breakerThreshold <= 0:
		return errors.New("sink: breaker threshold must be > 0")
	case c.probeInterval <= 0:
		return errors.New("sink: probe interval must be > 0")
	case c.deadLetterPartitions <= 0:
		return errors.New("sink: dead-letter partitions must be > 0")
	}
	return nil
}

// Kafka sets how to reach the Kafka cluster (required).
func Kafka(c kafka.Conn) Opt { return opt(func(cf *cfg) { cf.conn = c }) }

// KafkaOpts adds franz-go client options (after countlab's own).
func KafkaOpts(o ...kgo.Opt) Opt {
	return opt(func(c *cfg) { c.kgoOpts = append(c.kgoOpts, o...) })
}

// TopicPrefix sets the run prefix of every topic name, the sink's
// dead-letter topic included ("" by default).
func TopicPrefix(p string) Opt {
	return opt(func(c *cfg) {
		c.topics = kafka.DefaultTopics(p)
		c.deadLetter = DeadLetterTopic(p)
	})
}

// Group sets the consumer group (DefaultGroup by default).
func Group(g string) Opt { return opt(func(c *cfg) { c.group = g }) }

// Influx sets where InfluxDB is (required: URL and bucket).
func Influx(ic influx.Config) Opt { return opt(func(c *cfg) { c.influx = ic }) }

// MaxPoll sets the most records taken from Kafka per batch (10000).
func MaxPoll(n int) Opt { return opt(func(c *cfg) { c.maxPoll = n }) }

// WriteBatch sets the most points per InfluxDB write request (5000).
func WriteBatch(n int) Opt { return opt(func(c *cfg) { c.writeBatch = n }) }

// WriteTimeout bounds every InfluxDB write request (10s).
func WriteTimeout(d time.Duration) Opt { return opt(func(c *cfg) { c.writeTimeout = d }) }

// PingTimeout bounds every InfluxDB health probe (2s).
func PingTimeout(d time.Duration) Opt { return opt(func(c *cfg) { c.pingTimeout = d }) }

// Backoff sets the retry backoff: attempt n waits a uniformly random time
// in [0, min(max, base*2^n)] (full jitter). Defaults 100ms and 5s.
func Backoff(base, max time.Duration) Opt {
	return opt(func(c *cfg) { c.backoffBase, c.backoffMax = base, max })
}

// BreakerThreshold sets how many consecutive failed writes open the circuit
// breaker (3).
func BreakerThreshold(n int) Opt { return opt(func(c *cfg) { c.breakerThreshold = n }) }

// ProbeInterval sets the base interval of health probes while the breaker
// is open (500ms; backs off with jitter up to the backoff max).
func ProbeInterval(d time.Duration) Opt { return opt(func(c *cfg) { c.probeInterval = d }) }

// DeadLetterPartitions sets the partition count the dead-letter topic is
// created with when missing (1).
func DeadLetterPartitions(n int32) Opt { return opt(func(c *cfg) { c.deadLetterPartitions = n }) }

// Logger sets the logger (discard by default).
func Logger(l *slog.Logger) Opt { return opt(func(c *cfg) { c.logger = l }) }

// Registerer registers the sink's metrics (none by default).
func Registerer(r prometheus.Registerer) Opt { return opt(func(c *cfg) { c.registerer = r }) }
