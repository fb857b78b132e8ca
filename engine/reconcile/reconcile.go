// Package reconcile recounts window totals from the raw events in Kafka and
// repairs the windows the engine got wrong, where the engine's readers see
// them: the aggregates topic and InfluxDB.
//
// Kafka keeps every event (the events topic has infinite retention), so the
// truth for any window can be recomputed: Run reads the events topic
// read_committed from the start of every partition to its end when the run
// starts and applies the engine's rules (docs/ingest-contract.md; count.go):
// each record is decoded and validated with its timestamp as the reference
// time (malformed records are skipped: they are in the dead-letter topic),
// counted at its canonical partition only (a record the engine moves is
// counted once, as its moved copy), each identity (key, id) once per
// canonical partition (an exact map over everything read), into the window
// (total.WindowStart) of every configured size whose start is in
// [From, To), with Sub the canonical partition. A recounted total that is
// not finite fails the run with the window named, before anything is
// written. Before that it reads the newest committed total of every such
// window from the aggregates topic (what the sink and the query service's
// memory hold), and after it what InfluxDB holds, with one Flux query. A
// window differs when either is not the recount.
//
// Unless DryRun, every differing window that is safe (safety.go: the
// streaming engine has finished it, proven from its committed offsets and
// watermark rule) is repaired: its recounted absolute total, Closed, is
// published to partition Sub of the aggregates topic in one Kafka
// transaction (so the sink writes it to InfluxDB and the query service's
// memory updates), and, unless AggregatesOnly, written to InfluxDB directly
// as well, so the repair is visible at once (both are absolute, so their
// order does not matter). A window InfluxDB or the topic has but no event
// supports gets a zero total. Windows that are not safe are reported as
// skipped and left alone. Writing absolute totals makes a rerun harmless: a
// second run finds nothing to repair.
//
// Too-late events (the engine put them in the late topic and counted them
// in none of their windows) are in the events topic too, so the recount has
// them: their windows are what reconcile repairs. The late topic is read
// only to report how many fall in the range.
//
// With Config.Enrich the attribute roll-ups (engine/enrich) of the
// recounted windows are compared and repaired too (attr.go): every counted
// event joined at its event time with the metadata topic.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/engine/total"
)

// Config says what to reconcile and where.
type Config struct {
	// Kafka is how to reach the cluster; KafkaOpts are extra client options.
	Kafka     kafka.Conn
	KafkaOpts []kgo.Opt
	// Topics are the topic names (kafka.DefaultTopics("") when zero).
	Topics kafka.Topics
	// Influx is where the totals are.
	Influx influx.Config
	// From and To bound the window starts reconciled: [From, To).
	From, To time.Time
	// Windows are the window sizes (whole seconds, as the engine's).
	Windows []time.Duration
	// DryRun compares and reports but writes nothing.
	DryRun bool
	// AggregatesOnly publishes repairs to the aggregates topic only and
	// leaves InfluxDB to the sink (default: InfluxDB is written directly
	// too).
	AggregatesOnly bool
	// EngineGroup is the engine's consumer group (aggregate.DefaultGroup
	// when empty); its committed offsets decide which windows are safe.
	EngineGroup string
	// Lateness and OutOfOrderness are the engine's allowed lateness and
	// bounded out-of-orderness (aggregate.DefaultLateness and
	// aggregate.DefaultOutOfOrderness when 0; set NoLateness for a real
	// 0). They must be the engine's, as must Windows.
	Lateness, OutOfOrderness time.Duration
	// NoLateness and NoOutOfOrderness make the zero values above mean 0.
	NoLateness, NoOutOfOrderness bool
	// WaitForEngine is how long Run waits for the engine group to commit
	// past what it read before skipping a partition's windows (30s when
	// 0; negative: do not wait).
	WaitForEngine time.Duration
	// TransactionalID is the transactional id of the aggregates publish
	// ("countlab-reconcile" when empty). Runs sharing it fence each other.
	TransactionalID string
	// Validator decides which events count (event.NewValidator with
	// event.WindowSizes(Windows...) when nil); it must be the aggregator's.
	Validator *event.Validator
	// HotKeys are the hot keys split over several partitions, key -> n
	// (the gateway's and the engine's aggregate.HotKeys, which must be the
	// same): they decide each event's canonical partition.
	HotKeys map[string]int
	// Timeout bounds every InfluxDB call (30s when 0).
	Timeout time.Duration
	// Idle is how long a read waits for records it expects before taking a
	// partition as read (10s when 0).
	Idle time.Duration
	// MaxDifferences caps Result.Differences (100 when 0).
	MaxDifferences int
	// Logger logs progress (discard when nil).
	Logger *slog.Logger
	// Enrich repairs the attribute roll-ups too (attr.go); nil: key
	// totals only.
	Enrich *Enrich
	// Rollup is the retention config (engine/rollup; retention.go): each
	// granularity in its own bucket, expired and no longer recountable
	// windows left out. Nil: every size in Influx.Bucket, kept forever.
	Rollup *rollup.Config
}

// Result is what a run found and did.
type Result struct {
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Windows    []string  `json:"windows"`
	DryRun     bool      `json:"dry_run"`
	EventsRead int64     `json:"events_read"`
	Malformed  int64     `json:"malformed"`
	// EventsMoved counts the records read outside their canonical
	// partition whose moved copy was read too (the copy is counted).
	EventsMoved   int64 `json:"events_moved"`
	Duplicates    int64 `json:"duplicates"`
	EventsCounted int64 `json:"events_counted"`
	LateEvents    int64 `json:"late_events"`
	// WindowsChecked counts the windows the recount, InfluxDB or the
	// aggregates topic has; WindowsDiffering those where InfluxDB or the
	// topic is not the recount. Of these, WindowsMissing have no InfluxDB
	// total and WindowsExtra no supporting event.
	WindowsChecked   int `json:"windows_checked"`
	WindowsDiffering int `json:"windows_differing"`
	WindowsMissing   int `json:"windows_missing"`
	WindowsExtra     int `json:"windows_extra"`
	// WindowsTopicDiffering counts the differing windows whose newest
	// aggregates record is not the recount (missing, or another value).
	WindowsTopicDiffering int `json:"windows_topic_differing"`
	// WindowsRewritten counts the windows repaired: published to the
	// aggregates topic, and written to InfluxDB unless AggregatesOnly.
	WindowsRewritten int  `json:"windows_rewritten"`
	AggregatesOnly   bool `json:"aggregates_only"`
	// WindowsSkippedOpen counts the differing windows not written because
	// the engine may still update them (safety.go); SkippedOpen lists
	// them (total.RecordKey, sorted, at most MaxDifferences).
	WindowsSkippedOpen int      `json:"windows_skipped_open"`
	SkippedOpen        []string `json:"skipped_open"`
	// PartitionsEngineBehind are the events partitions whose engine
	// committed offset stayed below what reconcile read (after waiting
	// WaitForEngine): all their differing windows were skipped.
	PartitionsEngineBehind []int32 `json:"partitions_engine_behind"`
	// WindowsSkippedExpired counts the windows left out by the retention
	// rules (Config.Rollup): past their granularity's retention, or with
	// events the events topic may have dropped.
	WindowsSkippedExpired int          `json:"windows_skipped_expired"`
	Differences           []Difference `json:"differences,omitempty"`
	// Attributes is the attribute roll-up repair (Config.Enrich; nil
	// without).
	Attributes *AttrResult `json:"attributes,omitempty"`
	DurationS  float64     `json:"duration_s"`
}

// Difference is one window whose stored total is not the recounted one.
type Difference struct {
	Window string       `json:"window"` // total.RecordKey
	Stored *total.Total `json:"stored"` // InfluxDB's; nil when missing
	Topic  *total.Total `json:"topic"`  // the newest aggregates record; nil when none
	Truth  *total.Total `json:"truth"`  // nil when no event supports it
	// Skipped is set when the window was not written (not safe).
	Skipped bool `json:"skipped_open,omitempty"`
}

func (c *Config) defaults() error {
	if c.Topics == (kafka.Topics{}) {
		c.Topics = kafka.DefaultTopics("")
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Idle <= 0 {
		c.Idle = 10 * time.Second
	}
	if c.EngineGroup == "" {
		c.EngineGroup = aggregate.DefaultGroup
	}
	if c.Lateness == 0 && !c.NoLateness {
		c.Lateness = aggregate.DefaultLateness
	}
	if c.OutOfOrderness == 0 && !c.NoOutOfOrderness {
		c.OutOfOrderness = aggregate.DefaultOutOfOrderness
	}
	if c.Lateness < 0 || c.OutOfOrderness < 0 {
		return errors.New("reconcile: lateness and out-of-orderness must be >= 0")
	}
	if c.WaitForEngine == 0 {
		c.WaitForEngine = 30 * time.Second
	}
	if c.TransactionalID == "" {
		c.TransactionalID = "countlab-reconcile"
	}
	if c.MaxDifferences <= 0 {
		c.MaxDifferences = 100
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Validator == nil {
		v, err := event.NewValidator(event.WindowSizes(c.Windows...))
		if err != nil {
			return err
		}
		c.Validator = v
	}
	if err := c.Influx.Validate(); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	if c.Rollup != nil {
		if err := c.Rollup.Validate(); err != nil {
			return fmt.Errorf("reconcile: retention: %w", err)
		}
	}
	if !c.From.Before(c.To) {
		return fmt.Errorf("reconcile: empty range [%s, %s)", c.From, c.To)
	}
	if len(c.Windows) == 0 {
		return errors.New("reconcile: no window sizes")
	}
	for _, w := range c.Windows {
		if w < time.Second || w%time.Second != 0 {
			return fmt.Errorf("reconcile: window size %s is not whole seconds", w)
		}
	}
	return nil
}

// Run reconciles cfg's range; see the package comment.
func Run(ctx context.Context, cfg Config) (Result, error) {
	began := time.Now()
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	log := cfg.Logger.With("part", "reconcile")
	sizes := make([]int64, len(cfg.Windows))
	res := Result{From: cfg.From.UTC(), To: cfg.To.UTC(), DryRun: cfg.DryRun, AggregatesOnly: cfg.AggregatesOnly,
		SkippedOpen: []string{}, PartitionsEngineBehind: []int32{}}
	for i, w := range cfg.Windows {
		sizes[i] = w.Milliseconds()
		res.Windows = append(res.Windows, w.String())
	}
	slices.Sort(sizes)
	sizes = slices.Compact(sizes)
	base, err := cfg.Kafka.Opts()
	if err != nil {
		return res, fmt.Errorf("reconcile: %w", err)
	}
	base = append(base, cfg.KafkaOpts...)
	from, to := cfg.From.UnixMilli(), cfg.To.UnixMilli()

	// The aggregates topic first: safety.go needs its Closed records to be
	// older than the events read.
	view := newTopicView(sizes, from, to)
	if err := readTopic(ctx, base, cfg.Topics.Aggregates, cfg.Idle, log, view.add); err != nil {
		return res, err
	}
	if view.bad > 0 {
		log.Warn("undecodable aggregates records skipped", "count", view.bad)
	}
	parts, err := partitionCount(ctx, base, cfg.Topics.Events)
	if err != nil {
		return res, err
	}
	cnt := newCounter(cfg.Validator, cfg.HotKeys, parts, sizes, from, to)
	if cfg.Enrich != nil {
		// The metadata before the events: each counted event is joined
		// at its time (attr.go).
		cnt.attr = newAttrCounter(cfg.Enrich.Attrs)
		if err := readTopic(ctx, base, cfg.Enrich.MetadataTopic, cfg.Idle, log, cnt.attr.addVersion); err != nil {
			return res, err
		}
	}
	if err := readTopic(ctx, base, cfg.Topics.Events, cfg.Idle, log, cnt.add); err != nil {
		return res, err
	}
	cnt.finish()
	res.EventsRead, res.Malformed, res.Duplicates, res.EventsCounted = cnt.nread, cnt.malformed, cnt.duplicates, cnt.counted
	res.EventsMoved = cnt.movedSkipped
	if cnt.finite != nil {
		return res, cnt.finite
	}
	late := &lateCounter{c: cnt, seen: make(map[string]struct{})}
	if cfg.Topics.Late != "" {
		if err := readTopic(ctx, base, cfg.Topics.Late, cfg.Idle, log, late.add); err != nil {
			return res, err
		}
	}
	res.LateEvents = late.count
	log.Info("events recounted", "read", res.EventsRead, "counted", res.EventsCounted, "windows", len(cnt.totals),
		"aggregates_windows", len(view.latest))

	ic := influxdb2.NewClientWithOptions(cfg.Influx.URL, cfg.Influx.Credential(),
		influxdb2.DefaultOptions().SetPrecision(time.Millisecond).SetHTTPRequestTimeout(uint(max(1, cfg.Timeout/time.Second))))
	defer ic.Close()
	qctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	stored, err := storedAll(qctx, ic, &cfg, sizes)
	cancel()
	if err != nil {
		return res, err
	}

	// Every window anyone has: the recount, InfluxDB, the topic.
	keys := make([]string, 0, len(cnt.totals)+len(stored))
	for k := range cnt.totals {
		keys = append(keys, k)
	}
	for k := range stored {
		if _, ok := cnt.totals[k]; !ok {
			keys = append(keys, k)
		}
	}
	for k := range view.latest {
		if _, ok := cnt.totals[k]; !ok {
			if _, ok := stored[k]; !ok {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	var diffs []Difference
	now := nowMs()
	for _, k := range keys {
		truth, got, top := cnt.totals[k], stored[k], view.latest[k]
		if cfg.skipRetained(now, truth, got, top) {
			res.WindowsSkippedExpired++
			continue
		}
		res.WindowsChecked++
		if equal(truth, got) && equal(truth, top) {
			continue
		}
		res.WindowsDiffering++
		switch {
		case truth == nil:
			res.WindowsExtra++
		case got == nil:
			res.WindowsMissing++
		}
		if !equal(truth, top) {
			res.WindowsTopicDiffering++
		}
		diffs = append(diffs, Difference{Window: k, Stored: got, Topic: top, Truth: truth})
	}

	var adiffs []attrDiff
	if cfg.Enrich != nil {
		if res.Attributes, adiffs, err = compareAttrs(ctx, &cfg, base, ic, sizes, cnt.attr, log); err != nil { // attr.go
			return res, err
		}
	}

	// Which differing windows are safe to write (safety.go).
	sf := &safety{lateness: cfg.Lateness.Milliseconds(), outOfOrder: cfg.OutOfOrderness.Milliseconds(),
		parts: cnt.read, ahead: make(map[int32]bool)}
	need := make(map[int32]int64)
	for _, d := range diffs {
		if p := int32(d.sub()); cnt.read[p] != nil && cnt.read[p].end > 0 {
			need[p] = cnt.read[p].end
		}
	}
	for _, d := range adiffs {
		if p := int32(d.t.Sub); cnt.read[p] != nil && cnt.read[p].end > 0 {
			need[p] = cnt.read[p].end
		}
	}
	if len(need) > 0 {
		wait := max(cfg.WaitForEngine, 0)
		if cfg.DryRun {
			wait = 0
		}
		cl, adm, err := newAdmin(base)
		if err != nil {
			return res, err
		}
		behind, seen, err := engineOffsets(ctx, adm, cfg.EngineGroup, cfg.Topics.Events, need, wait)
		cl.Close()
		if err != nil {
			if !cfg.DryRun || ctx.Err() != nil {
				return res, err
			}
			// A dry run still reports the differences; without the
			// engine's offsets nothing is provably safe.
			log.Warn("engine offsets unknown; every differing window counts as skipped", "err", err)
		}
		for p := range need {
			sf.ahead[p] = !slices.Contains(behind, p)
		}
		if len(behind) > 0 {
			res.PartitionsEngineBehind = behind
		}
		if len(behind) > 0 {
			log.Warn("engine behind what reconcile read; skipping those partitions' windows",
				"group", cfg.EngineGroup, "partitions", behind, "committed", seen, "read_to", need, "waited", wait)
		}
	}
	var fix []total.Total
	for i := range diffs {
		d := &diffs[i]
		t := d.Truth
		if t == nil { // a zero total over what no event supports
			z := d.Stored
			if z == nil {
				z = d.Topic
			}
			zt := *z
			zt.Count, zt.Sum, zt.Min, zt.Max = 0, 0, 0, 0
			t = &zt
		}
		if !sf.safe(t.Sub, t.Start, t.Size, d.Topic != nil && d.Topic.Closed) {
			d.Skipped = true
			res.WindowsSkippedOpen++
			if len(res.SkippedOpen) < cfg.MaxDifferences {
				res.SkippedOpen = append(res.SkippedOpen, d.Window)
			}
			continue
		}
		w := *t
		w.Closed = true
		fix = append(fix, w)
	}
	if len(diffs) > cfg.MaxDifferences {
		diffs = diffs[:cfg.MaxDifferences]
	}
	res.Differences = diffs
	if !cfg.DryRun && len(fix) > 0 {
		if err := publish(ctx, base, cfg.Topics.Aggregates, cfg.TransactionalID, fix, cfg.Timeout, log); err != nil {
			return res, err
		}
		if !cfg.AggregatesOnly {
			if err := rewriteAll(ctx, ic, &cfg, fix, log); err != nil {
				return res, err
			}
		}
		res.WindowsRewritten = len(fix)
	}
	if res.Attributes != nil {
		if err := repairAttrs(ctx, &cfg, base, ic, res.Attributes, adiffs, sf, log); err != nil {
			return res, err
		}
	}
	res.DurationS = time.Since(began).Seconds()
	log.Info("reconciled", "checked", res.WindowsChecked, "differing", res.WindowsDiffering,
		"rewritten", res.WindowsRewritten, "skipped_open", res.WindowsSkippedOpen)
	return res, nil
}

// sub is the partition of d's window.
func (d *Difference) sub() int {
	for _, t := range []*total.Total{d.Truth, d.Stored, d.Topic} {
		if t != nil {
			return t.Sub
		}
	}
	return 0
}

// equal reports whether the stored total got is the recounted truth. A
// missing truth equals a stored zero total (what a rewrite of a window no
// event supports leaves).
func equal(truth, got *total.Total) bool {
	switch {
	case truth == nil && got == nil:
		return true
	case truth == nil:
		return got.Count == 0 && got.Sum == 0
	case got == nil:
		return false
	}
	return truth.Count == got.Count && truth.Sum == got.Sum && truth.Min == got.Min && truth.Max == got.Max
}
