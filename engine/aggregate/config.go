package aggregate

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
)

// Defaults.
const (
	DefaultGroup           = "countlab-engine"
	DefaultCommitInterval  = 250 * time.Millisecond
	DefaultWindow          = time.Minute
	DefaultLateness        = 15 * time.Second
	DefaultOutOfOrderness  = 5 * time.Second
	DefaultIdleTimeout     = 10 * time.Second
	DefaultDedupHorizon    = 10 * time.Minute
	DefaultHotKeyShare     = 0.2
	DefaultMaxPollRecords  = 0
	changelogTopicSuffix   = "engine-dedup"
	defaultHotKeyCapacity  = 32
	defaultHotKeySampleLog = 3 // sample 1 event in 8 for hot-key detection
)

// Opt configures a Worker.
type Opt interface{ apply(*cfg) }

type optFn func(*cfg)

func (f optFn) apply(c *cfg) { f(c) }

type cfg struct {
	conn       kafka.Conn
	clientOpts []kgo.Opt
	topics     kafka.Topics
	changelog  string
	group      string
	txnID      string
	instanceID string
	sessionTO  time.Duration

	commitInterval time.Duration
	windows        []int64 // ms, sorted ascending
	lateness       int64   // ms
	outOfOrder     int64   // ms
	idleTimeout    time.Duration
	horizon        int64 // ms

	maxCommitInterval time.Duration // pace.go

	validator *event.Validator
	reg       prometheus.Registerer
	log       *slog.Logger

	hotShare       float64
	hotKeys        map[string]int
	maxPollRecords int

	atLeastOnce bool
	plantBug    int

	enrich *enrichCfg // attr.go; nil: no attribute roll-up
}

func defaultCfg() cfg {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	c := cfg{
		topics:         kafka.DefaultTopics(""),
		changelog:      changelogTopicSuffix,
		group:          DefaultGroup,
		txnID:          "countlab-engine-" + host + "-0",
		commitInterval: DefaultCommitInterval,
		windows:        []int64{DefaultWindow.Milliseconds()},
		lateness:       DefaultLateness.Milliseconds(),
		outOfOrder:     DefaultOutOfOrderness.Milliseconds(),
		idleTimeout:    DefaultIdleTimeout,
		horizon:        DefaultDedupHorizon.Milliseconds(),
		log:            slog.Default(),
		hotShare:       DefaultHotKeyShare,
		maxPollRecords: DefaultMaxPollRecords,
	}
	c.maxCommitInterval = DefaultMaxCommitInterval
	return c
}

func (c *cfg) validate() error {
	if len(c.conn.Brokers) == 0 {
		return errors.New("aggregate: no brokers (use Conn)")
	}
	if c.group == "" {
		return errors.New("aggregate: empty consumer group")
	}
	if !c.atLeastOnce && c.txnID == "" {
		return errors.New("aggregate: empty transactional id")
	}
	if c.topics.Events == "" || c.topics.Aggregates == "" || c.topics.Late == "" || c.topics.DeadLetter == "" || c.changelog == "" {
		return errors.New("aggregate: every topic needs a name")
	}
	if c.commitInterval <= 0 {
		return fmt.Errorf("aggregate: commit interval must be > 0, got %v", c.commitInterval)
	}
	if c.maxCommitInterval < 0 {
		return fmt.Errorf("aggregate: max commit interval must be >= 0, got %v", c.maxCommitInterval)
	}
	if len(c.windows) == 0 {
		return errors.New("aggregate: no window sizes")
	}
	for _, w := range c.windows {
		if w <= 0 {
			return fmt.Errorf("aggregate: window size must be >= 1ms, got %dms", w)
		}
	}
	if c.lateness < 0 || c.outOfOrder < 0 {
		return errors.New("aggregate: lateness and out-of-orderness must be >= 0")
	}
	if c.idleTimeout <= 0 {
		return errors.New("aggregate: idle timeout must be > 0")
	}
	// See the proof on dedupSet: a horizon this long catches every
	// duplicate of an event whose window is still open.
	if need := c.windows[len(c.windows)-1] + c.lateness + c.outOfOrder; c.horizon < need {
		return fmt.Errorf("aggregate: dedup horizon %v must be >= largest window + allowed lateness + out-of-orderness = %v",
			time.Duration(c.horizon)*time.Millisecond, time.Duration(need)*time.Millisecond)
	}
	if c.hotShare <= 0 || c.hotShare > 1 {
		return fmt.Errorf("aggregate: hot key share must be in (0,1], got %v", c.hotShare)
	}
	for k, n := range c.hotKeys {
		if k == "" || n < 1 || strings.Contains(k, "#") {
			return fmt.Errorf("aggregate: hot key %q split %d ways: want a non-empty key without '#' (the sub-key separator) and a split >= 1", k, n)
		}
	}
	if c.maxPollRecords < 0 {
		return errors.New("aggregate: max poll records must be >= 0 (0: every buffered record)")
	}
	if err := c.enrich.validate(); err != nil {
		return err
	}
	if c.plantBug < 0 {
		return errors.New("aggregate: PlantBug every must be >= 0")
	}
	return nil
}

// Conn is how to reach the Kafka cluster (required).
func Conn(c kafka.Conn) Opt { return optFn(func(cf *cfg) { cf.conn = c }) }

// ClientOpts are extra franz-go options appended to every client the worker
// makes (e.g. kgo.WithLogger).
func ClientOpts(opts ...kgo.Opt) Opt {
	return optFn(func(c *cfg) { c.clientOpts = append(c.clientOpts, opts...) })
}

// TopicPrefix sets every topic name to its default with prefix prepended,
// including the dedup changelog "<prefix>engine-dedup".
func TopicPrefix(prefix string) Opt {
	return optFn(func(c *cfg) {
		c.topics = kafka.DefaultTopics(prefix)
		c.changelog = prefix + changelogTopicSuffix
	})
}

// Topics sets the topic names (after TopicPrefix, if both are given).
func Topics(t kafka.Topics) Opt { return optFn(func(c *cfg) { c.topics = t }) }

// ChangelogTopic names the dedup changelog topic (default
// "<prefix>engine-dedup"). It is created, partitioned like the events topic,
// when missing.
func ChangelogTopic(name string) Opt { return optFn(func(c *cfg) { c.changelog = name }) }

// Group is the consumer group (default "countlab-engine").
func Group(g string) Opt { return optFn(func(c *cfg) { c.group = g }) }

// TransactionalID is this worker's transactional id (default
// "countlab-engine-<hostname>-0"). Every live worker needs its own, and a
// restarted worker should reuse its predecessor's: InitProducerID then
// aborts the dead worker's open transaction at once instead of after the
// transaction timeout. Run a second worker on one host with "-1", etc.
func TransactionalID(id string) Opt { return optFn(func(c *cfg) { c.txnID = id }) }

// InstanceID turns on static group membership with this instance id: a
// restarted worker with the same id takes its predecessor's place at once
// instead of after the session timeout. Unique per live worker.
func InstanceID(id string) Opt { return optFn(func(c *cfg) { c.instanceID = id }) }

// SessionTimeout is the consumer-group session timeout (default: the
// client's, 45s): how long a crashed worker keeps its partitions.
func SessionTimeout(d time.Duration) Opt { return optFn(func(c *cfg) { c.sessionTO = d }) }

// CommitInterval is how often the open transaction is committed while the
// worker keeps up (default 250ms: at 50k events/s the system under test
// took 0.47 cores against 0.65 at 100ms, for ~150 ms more freshness p99;
// see pace.go for the interval while it is behind).
func CommitInterval(d time.Duration) Opt { return optFn(func(c *cfg) { c.commitInterval = d }) }

// Windows are the tumbling window sizes (default 1m); one total per size.
func Windows(sizes ...time.Duration) Opt {
	return optFn(func(c *cfg) {
		c.windows = c.windows[:0:0]
		for _, s := range sizes {
			c.windows = append(c.windows, s.Milliseconds())
		}
		slices.Sort(c.windows)
		c.windows = slices.Compact(c.windows)
	})
}

// AllowedLateness is how long after its end a window still takes events
// (default 15s), measured on the partition watermark.
func AllowedLateness(d time.Duration) Opt {
	return optFn(func(c *cfg) { c.lateness = d.Milliseconds() })
}

// OutOfOrderness is the bounded out-of-orderness subtracted from the
// largest event time seen to get the watermark (default 5s).
func OutOfOrderness(d time.Duration) Opt {
	return optFn(func(c *cfg) { c.outOfOrder = d.Milliseconds() })
}

// IdleTimeout is how long (processing time) a partition without records
// stops holding back the worker watermark (default 10s).
func IdleTimeout(d time.Duration) Opt { return optFn(func(c *cfg) { c.idleTimeout = d }) }

// DedupHorizon is how long (event time, behind the partition watermark)
// event identities (key, id) are remembered for dedup (default 10m). It
// must be >= largest window + lateness + out-of-orderness.
func DedupHorizon(d time.Duration) Opt { return optFn(func(c *cfg) { c.horizon = d.Milliseconds() }) }

// Validator validates decoded events (default event.NewValidator with
// event.WindowSizes of the worker's windows). Give it the worker's window
// sizes too (the ts_range check).
func Validator(v *event.Validator) Opt { return optFn(func(c *cfg) { c.validator = v }) }

// Registerer is where the worker's Prometheus metrics are registered
// (default: a registry of its own, see Worker.Gatherer).
func Registerer(r prometheus.Registerer) Opt { return optFn(func(c *cfg) { c.reg = r }) }

// Logger is the slog logger (default slog.Default()).
func Logger(l *slog.Logger) Opt { return optFn(func(c *cfg) { c.log = l }) }

// HotKeyShare is the share of a partition's load above which a key is
// reported as hot (default 0.2).
func HotKeyShare(f float64) Opt { return optFn(func(c *cfg) { c.hotShare = f }) }

// HotKeys are the counted keys split over several partitions, key -> n
// (the gateway's HotKeys, which must be the same map): the canonical record
// key of an event with such a key is "key#i", i = FNV-1a-64(id) mod n, and
// its canonical partition murmur2 of that (kafka.Partition). A record of
// the events topic outside its canonical partition is moved there (see
// the package comment). Default: none.
func HotKeys(m map[string]int) Opt {
	return optFn(func(c *cfg) {
		c.hotKeys = make(map[string]int, len(m))
		for k, n := range m {
			c.hotKeys[k] = n
		}
	})
}

// MaxPollRecords bounds the records processed per poll (default 0: every
// record the client has buffered). The client (kgo) issues a broker's next
// fetch only once every record of its buffered fetch was polled, so a
// bound below a fetch's records leaves the fetch idle while the worker
// processes, and the worker idle while the fetch runs: with 10000 (the
// default before) BenchmarkPipeline's worker waited in the poll about
// half of its time, and a poll of the whole fetch lets the next fetch run
// beside the processing (README, Performance). A fetch is bounded in
// bytes by the client (kgo.FetchMaxBytes, FetchMaxPartitionBytes), so the
// whole buffer is bounded too. A poll of any size is one batch or part of
// one: its dedup ids go in as many changelog records as needed (commit.go).
func MaxPollRecords(n int) Opt { return optFn(func(c *cfg) { c.maxPollRecords = n }) }

// AtLeastOnce is for tests and demonstrations ONLY: it turns off Kafka
// transactions (offsets are committed after the totals are flushed, not
// with them) and the restore of the dedup state, so a crash replays events
// that are counted a second time. It exists so the fault scenarios can show
// that the checker catches duplicates. Never use it in production.
func AtLeastOnce() Opt { return optFn(func(c *cfg) { c.atLeastOnce = true }) }

// PlantBug is for tests ONLY: every'th counted event is mis-counted,
// alternately dropped and counted twice, so a checker's test can prove it
// notices. 0 (the default) plants nothing.
func PlantBug(every int) Opt { return optFn(func(c *cfg) { c.plantBug = every }) }
