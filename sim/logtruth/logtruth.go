// Package logtruth builds the check's truth from the broker's log, for
// traffic countlab did not generate (k6, kcat, curl, any producer): it reads
// the committed records of the events topic (read_committed) over a range
// of record timestamps and/or for the event ids of one run (an id prefix),
// and feeds them, in log order per partition, to the oracle's log mode
// (sim/oracle AddRecord: validation, (key, id) dedup, per-partition
// watermark, moved records).
//
// It imports nothing from engine/ (the judged): the Kafka connection comes
// in as franz-go client options.
package logtruth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/sim/oracle"
)

// Opt configures Read.
type Opt interface{ apply(*cfg) }

type optFn func(*cfg)

func (f optFn) apply(c *cfg) { f(c) }

type cfg struct {
	clientOpts []kgo.Opt
	topic      string
	from, to   time.Time
	idPrefix   []byte
	oracle     oracle.Config
	connect    time.Duration
	idle       time.Duration
	settle     time.Duration
}

// ClientOpts are the franz-go options of the connection (seed brokers,
// SASL, TLS); required.
func ClientOpts(opts ...kgo.Opt) Opt {
	return optFn(func(c *cfg) { c.clientOpts = append(c.clientOpts, opts...) })
}

// Topic is the events topic (default "events").
func Topic(t string) Opt { return optFn(func(c *cfg) { c.topic = t }) }

// From reads the records whose timestamp is at or after t (default: the
// log start).
func From(t time.Time) Opt { return optFn(func(c *cfg) { c.from = t }) }

// To reads the records whose timestamp is before t (default: up to the
// last stable offset when the read starts).
func To(t time.Time) Opt { return optFn(func(c *cfg) { c.to = t }) }

// IDPrefix keeps only the events whose id starts with p (one run's); the
// others, and the records with no readable id, are skipped: they are not
// the run's. The run's keys and windows should be its own (as for every
// exact check: the read side serves whatever else was counted there too).
func IDPrefix(p string) Opt { return optFn(func(c *cfg) { c.idPrefix = []byte(p) }) }

// Oracle is the contract's parameters, as the engine runs them (windows,
// lateness, out-of-orderness, hot keys). Partitions, when 0, is the events
// topic's partition count read from the broker.
func Oracle(oc oracle.Config) Opt { return optFn(func(c *cfg) { c.oracle = oc }) }

// ConnectTimeout bounds the first answer of the brokers (default 10s):
// brokers that do not answer are a configuration error (ErrUnreachable).
func ConnectTimeout(d time.Duration) Opt { return optFn(func(c *cfg) { c.connect = d }) }

// IdleTimeout is how long a fetch may return nothing before the partitions
// still short of their end are taken as read (their last records aborted;
// default 5s).
func IdleTimeout(d time.Duration) Opt { return optFn(func(c *cfg) { c.idle = d }) }

// Settle re-reads the log, for up to d, while it holds records outside
// their canonical partition whose moved copy is not there yet: the engine
// is still moving them (it appends the copy when it reads the original),
// and the truth of a record depends on where its copy lands. Default 0:
// one read (the oracle takes such records as moved at the end).
func Settle(d time.Duration) Opt { return optFn(func(c *cfg) { c.settle = d }) }

func (c *cfg) validate() error {
	if len(c.clientOpts) == 0 {
		return errors.New("logtruth: no Kafka connection (ClientOpts)")
	}
	if c.topic == "" {
		return errors.New("logtruth: empty topic")
	}
	if !c.from.IsZero() && !c.to.IsZero() && !c.to.After(c.from) {
		return fmt.Errorf("logtruth: to %s is not after from %s", c.to.Format(time.RFC3339), c.from.Format(time.RFC3339))
	}
	if c.connect <= 0 || c.idle <= 0 {
		return errors.New("logtruth: timeouts must be > 0")
	}
	return nil
}

// ErrUnreachable wraps the error of brokers that did not answer, or of a
// topic that does not exist: the check's configuration is wrong.
var ErrUnreachable = errors.New("brokers unreachable or events topic missing")

// Result is what Read read.
type Result struct {
	// Truth is the oracle fed with the run's records.
	Truth *oracle.Oracle
	// Partitions is the events topic's partition count.
	Partitions int32
	// Records is the committed data records read in the range; Matched
	// those fed to the oracle (all of them without an id prefix).
	Records, Matched int64
	// Unfinished is the partitions taken as read after IdleTimeout
	// without reaching their end offset.
	Unfinished []int32
	// Others counts, with IDPrefix, the records in the range that are not
	// the run's but valid events by the contract, per window of the
	// truth's sizes: traffic sharing the read side's keys and windows.
	// Records, not distinct events: a duplicate or a moved copy counts
	// each time, so it bounds what they can add (see Shared).
	Others map[OtherWindow]int64
	// Splits names the keys whose records say the producer split them
	// over more sub-keys than the oracle's Config.HotKeys (none, or a
	// smaller n): an event of key K under the record key "K#i" with i >=
	// HotKeys[K]. The value is the highest i + 1 seen, the least n the
	// producer splits K into. A truth read with splits unknown is wrong
	// (its canonical partitions are not the engine's): give the pipeline's
	// hot keys.
	Splits map[string]int
}

// OtherWindow is one window of other traffic's records.
type OtherWindow struct {
	Size      time.Duration
	Type, Key string
	// Start is the window start, unix milliseconds.
	Start int64
}

// Shared is the records of other traffic on the window of size, type,
// key and start (0 without IDPrefix).
func (r Result) Shared(size time.Duration, typ, key string, start time.Time) int64 {
	return r.Others[OtherWindow{Size: size, Type: typ, Key: key, Start: start.UnixMilli()}]
}

// Read reads the log and returns the truth of what it holds.
func Read(ctx context.Context, opts ...Opt) (Result, error) {
	c := cfg{topic: "events", connect: 10 * time.Second, idle: 5 * time.Second}
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return Result{}, err
	}
	deadline := time.Now().Add(c.settle)
	for {
		res, err := c.read(ctx)
		if err != nil || c.settle <= 0 || res.Truth.Stats().Unmoved == 0 || time.Now().After(deadline) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// read is one read of the log.
func (c *cfg) read(ctx context.Context) (Result, error) {
	from, end, parts, err := c.bounds(ctx)
	if err != nil {
		return Result{}, err
	}
	oc := c.oracle
	if oc.Partitions == 0 {
		oc.Partitions = parts
	}
	o, err := oracle.New(oc)
	if err != nil {
		return Result{}, err
	}
	res := Result{Truth: o, Partitions: parts}
	sizes := o.Sizes()
	if len(end) == 0 {
		return res, nil
	}
	cl, err := kgo.NewClient(append(c.clientOpts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return res, fmt.Errorf("logtruth: kafka client: %w", err)
	}
	defer cl.Close()
	toMs := int64(1<<63 - 1)
	if !c.to.IsZero() {
		toMs = c.to.UnixMilli()
	}
	fromMs := int64(-1 << 63)
	if !c.from.IsZero() {
		fromMs = c.from.UnixMilli()
	}
	for len(end) > 0 {
		pctx, cancel := context.WithTimeout(ctx, c.idle)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if fs.NumRecords() == 0 && pctx.Err() != nil {
			for p := range end {
				res.Unfinished = append(res.Unfinished, p)
			}
			break
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("logtruth: fetch %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return res, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			e, ok := end[r.Partition]
			if !ok || r.Offset >= e {
				return
			}
			if r.Offset >= e-1 {
				delete(end, r.Partition)
			}
			ts := r.Timestamp.UnixMilli()
			if r.Attrs.IsControl() || ts < fromMs || ts >= toMs {
				return
			}
			res.Records++
			rec := record(r)
			if len(c.idPrefix) > 0 && !c.matches(o, rec) {
				res.other(o, sizes, rec)
				return
			}
			res.Matched++
			if v := o.AddRecord(rec); v.Code == "" {
				res.noteSplit(oc.HotKeys, rec.Key, v.Event.Key)
			}
		})
	}
	return res, nil
}

// matches says whether the record is an event of the run: its id (as the
// oracle decodes it) starts with the prefix.
func (c *cfg) matches(o *oracle.Oracle, r oracle.Record) bool {
	if !bytes.Contains(r.Value, c.idPrefix) {
		return false // fast path: the prefix is nowhere in the bytes
	}
	v := o.ExpectRecord(r.Value, r.Timestamp)
	return bytes.HasPrefix([]byte(v.Event.ID), c.idPrefix)
}

// other counts a record that is not the run's in Others, when it is a
// valid event.
func (r *Result) other(o *oracle.Oracle, sizes []time.Duration, rec oracle.Record) {
	v := o.ExpectRecord(rec.Value, rec.Timestamp)
	if v.Code != "" {
		return
	}
	if r.Others == nil {
		r.Others = map[OtherWindow]int64{}
	}
	for _, size := range sizes {
		ms := size.Milliseconds()
		start := v.Event.TS - ((v.Event.TS%ms)+ms)%ms
		r.Others[OtherWindow{Size: size, Type: v.Event.Type, Key: v.Event.Key, Start: start}]++
	}
}

// noteSplit records in Splits a record key "key#i" (i decimal) with i at
// or above hot[key]: a split the truth was not told of.
func (r *Result) noteSplit(hot map[string]int, recKey []byte, key string) {
	if len(recKey) < len(key)+2 || recKey[len(key)] != '#' || string(recKey[:len(key)]) != key {
		return
	}
	i, err := strconv.Atoi(string(recKey[len(key)+1:]))
	if err != nil || i < hot[key] { // a negative i too: hot[key] >= 0
		return
	}
	if r.Splits == nil {
		r.Splits = map[string]int{}
	}
	r.Splits[key] = max(r.Splits[key], i+1)
}

func record(r *kgo.Record) oracle.Record {
	out := oracle.Record{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(), Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		out.Headers = append(out.Headers, oracle.Header{Key: h.Key, Value: h.Value})
	}
	return out
}

// bounds are, per partition of the topic, the first offset to read (the
// log start, or the first at or after From) and the last stable offset
// (the read_committed end), with the partition count.
func (c *cfg) bounds(ctx context.Context) (map[int32]kgo.Offset, map[int32]int64, int32, error) {
	cl, err := kgo.NewClient(c.clientOpts...)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("logtruth: kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	cctx, cancel := context.WithTimeout(ctx, c.connect)
	defer cancel()
	tds, err := adm.ListTopics(cctx, c.topic)
	if err == nil {
		err = tds.Error()
	}
	if err == nil && !tds.Has(c.topic) {
		err = kerr.UnknownTopicOrPartition
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, 0, ctx.Err()
		}
		return nil, nil, 0, fmt.Errorf("%w: topic %s: %v", ErrUnreachable, c.topic, err)
	}
	parts := int32(len(tds[c.topic].Partitions))
	var starts kadm.ListedOffsets
	if c.from.IsZero() {
		starts, err = adm.ListStartOffsets(ctx, c.topic)
	} else {
		starts, err = adm.ListOffsetsAfterMilli(ctx, c.from.UnixMilli(), c.topic)
	}
	if err != nil {
		return nil, nil, 0, fmt.Errorf("logtruth: start offsets of %s: %w", c.topic, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, c.topic)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("logtruth: end offsets of %s: %w", c.topic, err)
	}
	from := map[int32]kgo.Offset{}
	end := map[int32]int64{}
	var lerr error
	ends.Each(func(e kadm.ListedOffset) {
		s, ok := starts.Lookup(c.topic, e.Partition)
		if e.Err != nil || !ok || s.Err != nil {
			lerr = errors.Join(lerr, e.Err, s.Err)
			return
		}
		if e.Offset > s.Offset {
			from[e.Partition] = kgo.NewOffset().At(s.Offset)
			end[e.Partition] = e.Offset
		}
	})
	if lerr != nil {
		return nil, nil, 0, fmt.Errorf("logtruth: offsets of %s: %w", c.topic, lerr)
	}
	return from, end, parts, nil
}
