package query

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/rollup"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults.
const (
	DefaultRetention     = 2 * time.Hour
	DefaultMaxRange      = 31 * 24 * time.Hour
	DefaultMaxTopN       = 1000
	DefaultTopN          = 10
	DefaultRange         = time.Minute
	DefaultWindow        = time.Minute
	DefaultInfluxTimeout = 5 * time.Second
	DefaultCacheSize     = 1024
	DefaultRetryAfter    = 5 * time.Second
	// DefaultSinkGroup is the consumer group of the sink (engine/sink's
	// DefaultGroup; the tests hold them equal).
	DefaultSinkGroup = "countlab-sink"
)

// DefaultTypes are the event types accepted when Types is not given.
var DefaultTypes = []string{"VIEW", "LIKE", "SHARE", "CLICK", "IMPRESSION", "VISIT"}

// Opt configures a Server.
type Opt interface{ apply(*cfg) }

type opt func(*cfg)

func (o opt) apply(c *cfg) { o(c) }

type cfg struct {
	conn      kafka.Conn
	kafkaOpts []kgo.Opt
	topic     string
	sinkGroup string

	influx        *influx.Config
	rollup        *rollup.Config // rollup.go
	influxTimeout time.Duration

	retention time.Duration
	types     []string
	windows   []time.Duration
	maxRange  time.Duration
	maxTopN   int
	cacheSize int
	token     string

	retryAfter time.Duration
	evictEvery time.Duration

	logger *slog.Logger
	now    func() time.Time
}

func defaultCfg() cfg {
	return cfg{
		topic:         kafka.DefaultTopics("").Aggregates,
		sinkGroup:     DefaultSinkGroup,
		influxTimeout: DefaultInfluxTimeout,
		retention:     DefaultRetention,
		types:         DefaultTypes,
		windows:       []time.Duration{DefaultWindow},
		maxRange:      DefaultMaxRange,
		maxTopN:       DefaultMaxTopN,
		cacheSize:     DefaultCacheSize,
		retryAfter:    DefaultRetryAfter,
		evictEvery:    5 * time.Second,
		logger:        slog.Default(),
		now:           time.Now,
	}
}

func (c *cfg) validate() error {
	if c.topic == "" {
		return errors.New("query: empty aggregates topic name")
	}
	if c.retention < 0 {
		return fmt.Errorf("query: negative retention %v", c.retention)
	}
	if len(c.types) == 0 {
		return errors.New("query: no event types")
	}
	if len(c.windows) == 0 {
		return errors.New("query: no window sizes")
	}
	for _, w := range c.windows {
		if w < time.Second || w%time.Second != 0 {
			return fmt.Errorf("query: window size %v is not a whole number of seconds", w)
		}
	}
	if c.maxRange <= 0 {
		return fmt.Errorf("query: max range must be > 0, got %v", c.maxRange)
	}
	if c.maxTopN < 1 {
		return fmt.Errorf("query: max top n must be >= 1, got %d", c.maxTopN)
	}
	if c.cacheSize < 1 {
		return fmt.Errorf("query: cache size must be >= 1, got %d", c.cacheSize)
	}
	if c.influxTimeout <= 0 {
		return fmt.Errorf("query: influx timeout must be > 0, got %v", c.influxTimeout)
	}
	if c.influx != nil {
		if err := c.influx.Validate(); err != nil {
			return err
		}
	}
	return c.validateRollup()
}

// Kafka reads window totals from the cluster conn names. Without it the
// server holds nothing in memory and answers every range from InfluxDB.
func Kafka(conn kafka.Conn) Opt { return opt(func(c *cfg) { c.conn = conn }) }

// KafkaOpts adds franz-go client options (after the ones Kafka builds).
func KafkaOpts(opts ...kgo.Opt) Opt {
	return opt(func(c *cfg) { c.kafkaOpts = append(c.kafkaOpts, opts...) })
}

// Topic is the aggregates topic (default kafka.DefaultTopics("").Aggregates).
func Topic(name string) Opt { return opt(func(c *cfg) { c.topic = name }) }

// SinkGroup is the consumer group of the sink writing the aggregates topic
// into InfluxDB (default DefaultSinkGroup). Its committed offsets say which
// totals InfluxDB holds: an InfluxDB answer is cached only once every total
// of its windows read from the topic is there, and dropped when a newer one
// is read. "" means no sink is known: windows the topic has totals for are
// never answered from the cache.
func SinkGroup(group string) Opt { return opt(func(c *cfg) { c.sinkGroup = group }) }

// Influx answers ranges older than the retention from InfluxDB.
func Influx(conf influx.Config) Opt { return opt(func(c *cfg) { c.influx = &conf }) }

// InfluxTimeout bounds every InfluxDB call (default 5 s).
func InfluxTimeout(d time.Duration) Opt { return opt(func(c *cfg) { c.influxTimeout = d }) }

// Retention is how far back windows are kept in memory (default 2 h).
// Older ranges are answered from InfluxDB.
func Retention(d time.Duration) Opt { return opt(func(c *cfg) { c.retention = d }) }

// Types is the set of event types queries may name (default DefaultTypes).
func Types(types ...string) Opt { return opt(func(c *cfg) { c.types = types }) }

// Windows are the window sizes queries may name with window=; the first is
// the default (default 60 s only).
func Windows(sizes ...time.Duration) Opt { return opt(func(c *cfg) { c.windows = sizes }) }

// MaxRange is the longest from..to range a query may ask for (default 31 days).
func MaxRange(d time.Duration) Opt { return opt(func(c *cfg) { c.maxRange = d }) }

// MaxTopN is the largest n a top query may ask for (default 1000).
func MaxTopN(n int) Opt { return opt(func(c *cfg) { c.maxTopN = n }) }

// CacheSize is the number of entries of each result cache (default 1024).
func CacheSize(n int) Opt { return opt(func(c *cfg) { c.cacheSize = n }) }

// Token requires "Authorization: Bearer TOKEN" on the /v1 API. The token
// is never logged.
func Token(token string) Opt { return opt(func(c *cfg) { c.token = token }) }

// RetryAfter is the Retry-After of a 503 (default 5 s).
func RetryAfter(d time.Duration) Opt { return opt(func(c *cfg) { c.retryAfter = d }) }

// Logger sets the logger (default slog.Default()).
func Logger(l *slog.Logger) Opt { return opt(func(c *cfg) { c.logger = l }) }

// Clock replaces time.Now (tests).
func Clock(now func() time.Time) Opt { return opt(func(c *cfg) { c.now = now }) }
