package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults.
const (
	// DefaultMaxBodyBytes is the largest request body accepted (4 MiB).
	DefaultMaxBodyBytes = 4 << 20
	// DefaultMaxBatch is the most events one request may carry.
	DefaultMaxBatch = 10_000
	// DefaultMaxInFlight is the most events (good and dead-lettered) being
	// produced to Kafka at once, over all requests.
	DefaultMaxInFlight = 100_000
	// DefaultBodyReadTimeout bounds how long a request's body may take to
	// arrive (408 after that).
	DefaultBodyReadTimeout = 10 * time.Second
	// DefaultProduceTimeout bounds how long one request waits for Kafka to
	// acknowledge its records before answering 503.
	DefaultProduceTimeout = 30 * time.Second
	// Source is the dead-letter source header value of the gateway.
	Source = "gateway"
	// DefaultMetadataMinAge is the producer's kgo.MetadataMinAge: how
	// soon after one metadata refresh the next may go out. franz-go's
	// default (5s) holds produce back that long after a broker restart
	// or a leader move; the gateway refreshes sooner (see
	// defaultKgoOpts). Override it with KgoOpts(kgo.MetadataMinAge(d)).
	DefaultMetadataMinAge = 250 * time.Millisecond
	// DefaultMetadataMaxAge is the producer's kgo.MetadataMaxAge: how
	// often metadata is refreshed without a reason to (franz-go: 5m).
	DefaultMetadataMaxAge = 30 * time.Second
)

// defaultKgoOpts are client options the gateway sets before the
// KgoOpts given: metadata refreshes that let produce resume within a
// fraction of a second after a broker restart.
func defaultKgoOpts() []kgo.Opt {
	return []kgo.Opt{kgo.MetadataMinAge(DefaultMetadataMinAge), kgo.MetadataMaxAge(DefaultMetadataMaxAge)}
}

// Opt configures a Gateway.
type Opt interface{ apply(*cfg) }

type opt func(*cfg)

func (o opt) apply(c *cfg) { o(c) }

type cfg struct {
	conn           kafka.Conn
	kgoOpts        []kgo.Opt
	topics         kafka.Topics
	metadataTopic  string // metadata.go
	token          string
	maxBody        int64
	maxBatch       int
	maxInFlight    int
	rateLimit      float64 // events/s; 0: none (ratelimit.go)
	rateBurst      int
	produceTimeout time.Duration
	bodyTimeout    time.Duration
	hotKeys        map[string]int
	validator      *event.Validator
	logger         *slog.Logger
}

func defaultCfg() cfg {
	return cfg{
		topics:         kafka.DefaultTopics(""),
		metadataTopic:  "metadata",
		kgoOpts:        defaultKgoOpts(),
		maxBody:        DefaultMaxBodyBytes,
		maxBatch:       DefaultMaxBatch,
		maxInFlight:    DefaultMaxInFlight,
		produceTimeout: DefaultProduceTimeout,
		bodyTimeout:    DefaultBodyReadTimeout,
		logger:         slog.New(slog.DiscardHandler),
	}
}

func (c *cfg) validate() error {
	var errs []error
	if len(c.conn.Brokers) == 0 {
		errs = append(errs, errors.New("no Kafka brokers (use Kafka(conn) with at least one address)"))
	}
	if c.topics.Events == "" || c.topics.DeadLetter == "" {
		errs = append(errs, errors.New("the events and dead-letter topic names must not be empty"))
	}
	if c.maxBody <= 0 {
		errs = append(errs, fmt.Errorf("MaxBodyBytes must be > 0, got %d", c.maxBody))
	}
	if c.maxBatch <= 0 {
		errs = append(errs, fmt.Errorf("MaxBatch must be > 0, got %d", c.maxBatch))
	}
	if c.maxInFlight < c.maxBatch {
		errs = append(errs, fmt.Errorf("MaxInFlight (%d) must be >= MaxBatch (%d), or a full batch could never be admitted", c.maxInFlight, c.maxBatch))
	}
	if err := c.rateErr(); err != nil {
		errs = append(errs, err)
	}
	if c.bodyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("BodyReadTimeout must be > 0, got %s", c.bodyTimeout))
	}
	if c.produceTimeout <= 0 {
		errs = append(errs, fmt.Errorf("ProduceTimeout must be > 0, got %s", c.produceTimeout))
	}
	for k, n := range c.hotKeys {
		if k == "" || n < 1 {
			errs = append(errs, fmt.Errorf("hot key %q: split must be >= 1 and the key non-empty, got %d", k, n))
		}
		if strings.Contains(k, "#") {
			errs = append(errs, fmt.Errorf("hot key %q: must not contain '#', the sub-key separator", k))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

// Kafka says how to reach the Kafka cluster (required).
func Kafka(conn kafka.Conn) Opt { return opt(func(c *cfg) { c.conn = conn }) }

// KgoOpts adds franz-go client options after the gateway's own (a logger,
// for example). Options that change the producer's guarantees (acks,
// idempotence, partitioner) should not be given.
func KgoOpts(opts ...kgo.Opt) Opt {
	return opt(func(c *cfg) { c.kgoOpts = append(c.kgoOpts, opts...) })
}

// Topics sets the topic names (default kafka.DefaultTopics("")). Good events
// go to Events, malformed ones to DeadLetter.
func Topics(t kafka.Topics) Opt { return opt(func(c *cfg) { c.topics = t }) }

// Token turns on bearer-token authentication of POST /v1/events: requests
// must carry "Authorization: Bearer TOKEN". Empty (the default) means no
// authentication. The token is never logged.
func Token(token string) Opt { return opt(func(c *cfg) { c.token = token }) }

// MaxBodyBytes limits the request body size (default DefaultMaxBodyBytes),
// on the wire and decoded (Content-Encoding gzip or zstd); larger bodies
// are answered 413.
func MaxBodyBytes(n int64) Opt { return opt(func(c *cfg) { c.maxBody = n }) }

// BodyReadTimeout bounds how long the whole request body may take to
// arrive (default DefaultBodyReadTimeout); a slower body is answered 408
// and its connection closed, so a slow client cannot hold a request open.
func BodyReadTimeout(d time.Duration) Opt { return opt(func(c *cfg) { c.bodyTimeout = d }) }

// MaxBatch limits the number of events in one request (default
// DefaultMaxBatch); longer batches are answered 400.
func MaxBatch(n int) Opt { return opt(func(c *cfg) { c.maxBatch = n }) }

// MaxInFlight limits the events being produced to Kafka at once over all
// requests (default DefaultMaxInFlight; must be >= MaxBatch). A batch that
// does not fit is answered 429 and nothing of it is produced. The
// producer's kgo.MaxBufferedRecords is set to the same number, so a
// produce never blocks on the client's buffer.
func MaxInFlight(n int) Opt { return opt(func(c *cfg) { c.maxInFlight = n }) }

// ProduceTimeout bounds the wait for Kafka's acknowledgement of a request's
// records (default DefaultProduceTimeout); it is also the producer's
// kgo.RecordDeliveryTimeout. Records not acknowledged in time are reported
// "failed" and the request is answered 503.
func ProduceTimeout(d time.Duration) Opt { return opt(func(c *cfg) { c.produceTimeout = d }) }

// HotKeys splits hot counted keys over several partitions: for a key K split
// into N, the record key is "K#i" with i = FNV-1a-64(event id) % N, so all
// copies of one event land in the same partition while K's load spreads
// over up to N partitions. The event itself keeps Key K; the engine keeps
// one total per partition (total.Total.Sub) and readers sum them. N <= 1
// means no split.
func HotKeys(m map[string]int) Opt {
	return opt(func(c *cfg) {
		c.hotKeys = make(map[string]int, len(m))
		for k, n := range m {
			c.hotKeys[k] = n
		}
	})
}

// Validator sets the event validator (default: event.NewValidator() with
// no options, which accepts event.DefaultTypes). Events are validated with
// ValidateAt at the request's receive time.
func Validator(v *event.Validator) Opt { return opt(func(c *cfg) { c.validator = v }) }

// Logger sets the logger (default: discard).
func Logger(l *slog.Logger) Opt { return opt(func(c *cfg) { c.logger = l }) }
