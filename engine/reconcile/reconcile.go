// Package reconcile recounts window totals from the raw events in Kafka and
// repairs InfluxDB where it differs.
//
// Kafka keeps every event (the events topic has infinite retention), so the
// truth for any window can be recomputed: Run reads the events topic
// read_committed from the start of every partition to its end when the run
// starts, decodes and validates each record as the aggregator does
// (malformed records are skipped: they are in the dead-letter topic),
// counts each event id once per partition (an exact map over everything
// read), and adds each distinct event to the window (total.WindowStart) of
// every configured size whose start is in [From, To), with Sub the
// partition. It then reads what InfluxDB holds for those windows with one
// Flux query and, unless DryRun, writes the recounted absolute total of
// every window that differs or is missing (and a zero total over a window
// InfluxDB has but no event supports). Writing absolute totals makes a
// rerun harmless: a second run finds nothing to repair.
//
// Late events (in the late topic) are in the events topic too, so they are
// already counted; the late topic is read only to report how many fall in
// the range.
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

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
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
	// Validator decides which events count (event.NewValidator() when nil);
	// it must be the aggregator's.
	Validator *event.Validator
	// Timeout bounds every InfluxDB call (30s when 0).
	Timeout time.Duration
	// Idle is how long a read waits for records it expects before taking a
	// partition as read (10s when 0).
	Idle time.Duration
	// MaxDifferences caps Result.Differences (100 when 0).
	MaxDifferences int
	// Logger logs progress (discard when nil).
	Logger *slog.Logger
}

// Result is what a run found and did.
type Result struct {
	From             time.Time    `json:"from"`
	To               time.Time    `json:"to"`
	Windows          []string     `json:"windows"`
	DryRun           bool         `json:"dry_run"`
	EventsRead       int64        `json:"events_read"`
	Malformed        int64        `json:"malformed"`
	Duplicates       int64        `json:"duplicates"`
	EventsCounted    int64        `json:"events_counted"`
	LateEvents       int64        `json:"late_events"`
	WindowsChecked   int          `json:"windows_checked"`
	WindowsDiffering int          `json:"windows_differing"`
	WindowsMissing   int          `json:"windows_missing"`
	WindowsExtra     int          `json:"windows_extra"`
	WindowsRewritten int          `json:"windows_rewritten"`
	Differences      []Difference `json:"differences,omitempty"`
	DurationS        float64      `json:"duration_s"`
}

// Difference is one window whose stored total is not the recounted one.
type Difference struct {
	Window string       `json:"window"` // total.RecordKey
	Stored *total.Total `json:"stored"` // nil when missing
	Truth  *total.Total `json:"truth"`  // nil when no event supports it
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
	if c.MaxDifferences <= 0 {
		c.MaxDifferences = 100
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Validator == nil {
		v, err := event.NewValidator()
		if err != nil {
			return err
		}
		c.Validator = v
	}
	if err := c.Influx.Validate(); err != nil {
		return fmt.Errorf("reconcile: %w", err)
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
	res := Result{From: cfg.From.UTC(), To: cfg.To.UTC(), DryRun: cfg.DryRun}
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

	cnt := newCounter(cfg.Validator, sizes, cfg.From.UnixMilli(), cfg.To.UnixMilli())
	if err := readTopic(ctx, base, cfg.Topics.Events, cfg.Idle, log, cnt.add); err != nil {
		return res, err
	}
	res.EventsRead, res.Malformed, res.Duplicates, res.EventsCounted = cnt.read, cnt.malformed, cnt.duplicates, cnt.counted
	late := &lateCounter{c: cnt, seen: make(map[string]struct{})}
	if cfg.Topics.Late != "" {
		if err := readTopic(ctx, base, cfg.Topics.Late, cfg.Idle, log, late.add); err != nil {
			return res, err
		}
	}
	res.LateEvents = late.count
	log.Info("events recounted", "read", res.EventsRead, "counted", res.EventsCounted, "windows", len(cnt.totals))

	ic := influxdb2.NewClientWithOptions(cfg.Influx.URL, cfg.Influx.Token,
		influxdb2.DefaultOptions().SetPrecision(time.Millisecond).SetHTTPRequestTimeout(uint(max(1, cfg.Timeout/time.Second))))
	defer ic.Close()
	qctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	stored, err := Stored(qctx, ic.QueryAPI(cfg.Influx.Org), cfg.Influx.Bucket, cfg.From, cfg.To, sizes)
	cancel()
	if err != nil {
		return res, err
	}

	var fix []total.Total
	check := func(k string, truth, got *total.Total) {
		res.WindowsChecked++
		if equal(truth, got) {
			return
		}
		res.WindowsDiffering++
		switch {
		case got == nil:
			res.WindowsMissing++
		case truth == nil:
			res.WindowsExtra++
		}
		if len(res.Differences) < cfg.MaxDifferences {
			res.Differences = append(res.Differences, Difference{Window: k, Stored: got, Truth: truth})
		}
		if truth == nil {
			z := *got
			z.Count, z.Sum, z.Min, z.Max = 0, 0, 0, 0
			fix = append(fix, z)
			return
		}
		fix = append(fix, *truth)
	}
	for k, t := range cnt.totals {
		check(k, t, stored[k])
	}
	for k, s := range stored {
		if _, ok := cnt.totals[k]; !ok {
			check(k, nil, s)
		}
	}
	slices.SortFunc(res.Differences, func(a, b Difference) int {
		switch {
		case a.Window < b.Window:
			return -1
		case a.Window > b.Window:
			return 1
		}
		return 0
	})
	if !cfg.DryRun && len(fix) > 0 {
		if err := rewrite(ctx, ic.WriteAPIBlocking(cfg.Influx.Org, cfg.Influx.Bucket), fix, cfg.Timeout, log); err != nil {
			return res, err
		}
		res.WindowsRewritten = len(fix)
	}
	res.DurationS = time.Since(began).Seconds()
	log.Info("reconciled", "checked", res.WindowsChecked, "differing", res.WindowsDiffering, "rewritten", res.WindowsRewritten)
	return res, nil
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
