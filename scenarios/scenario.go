// Package scenarios holds countlab's declarative scenarios: the YAML
// schema (Scenario and its sections, every field documented), a strict
// loader that names the field path of every mistake with a hint, and the
// scenarios shipped with countlab (embedded, so the binary finds them from
// anywhere: Lookup("quickstart")).
//
// A scenario says what traffic to send (rate shape, key skew, event types,
// values, dimensions, disorder, duplicates, malformed events, and how: via
// the gateway or straight to Kafka), how to set up the engine, which
// faults to inject, the SLOs that decide pass or fail, and the tolerances
// of a comparison with a baseline report.
package scenarios

import (
	"time"

	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/faults"
)

// Scenario is one scenario file.
type Scenario struct {
	// Name identifies the scenario in reports ([a-z0-9-]+).
	Name string `yaml:"name"`
	// Description says what the scenario shows, in a sentence or two.
	Description string `yaml:"description"`
	// Duration is how long traffic is sent (e.g. 60s).
	Duration time.Duration `yaml:"duration"`
	// Seed makes the traffic reproducible: the same seed sends the same
	// events.
	Seed uint64 `yaml:"seed"`
	// DrainTimeout bounds the wait, after the traffic, for the query
	// service to show every expected total (default 90s).
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// Traffic is what is sent.
	Traffic Traffic `yaml:"traffic"`
	// Probes are the measurements taken while the traffic runs.
	Probes Probes `yaml:"probes"`
	// Engine is how the embedded engine is set up.
	Engine Engine `yaml:"engine"`
	// Faults are injected during the run, each at its start (from the
	// start of the traffic) for its duration; kinds: faults.Kinds().
	Faults []Fault `yaml:"faults"`
	// RandomFaults, when set, adds a schedule of faults drawn from its
	// seed to Faults before the run (ExpandRandomFaults; countlab run
	// --fault-seed N overrides the seed): seed, count, kinds, min_duration,
	// max_duration, min_gap, from, tail, params (see faults.Random).
	RandomFaults *faults.Random `yaml:"random_faults,omitempty"`
	// randomDrawn is set once ExpandRandomFaults added the drawn faults.
	randomDrawn bool
	// SLO decides pass or fail.
	SLO SLO `yaml:"slo"`
	// Baseline holds the tolerances of --baseline comparisons.
	Baseline Baseline `yaml:"baseline"`
	// Abort are conditions that stop the run early (see AbortCondition).
	Abort []AbortCondition `yaml:"abort,omitempty"`
	// SteadyState is the hypothesis checked before the first fault (see
	// SteadyState; scenarios with faults check a default one).
	SteadyState *SteadyState `yaml:"steady_state,omitempty"`
	// PhaseSLO are SLOs scoped to the phases of each fault (see PhaseSLO).
	PhaseSLO []PhaseSLO `yaml:"phase_slo,omitempty"`
	// Saturation tunes the rules that name the stage that saturated first
	// (report.json's saturation; every field optional).
	Saturation Saturation `yaml:"saturation,omitempty"`
	// Enrichment, when set, rolls the counts up by the keys' attributes
	// (views per channel) and checks them (enrichment.go).
	Enrichment *Enrichment `yaml:"enrichment,omitempty"`
	// RollingCheck checks windows during the run and drops their truth
	// (long runs in bounded memory; longrun.go).
	RollingCheck *RollingCheck `yaml:"rolling_check,omitempty"`
	// TopicRetention bounds the broker's topics by time (longrun.go; the
	// store's retention is engine.retention).
	TopicRetention *TopicRetention `yaml:"topic_retention,omitempty"`
}

// Traffic is the load.
type Traffic struct {
	// Rate is the intended send rate over time.
	Rate Rate `yaml:"rate"`
	// Arrival is "uniform" (evenly spaced sends) or "poisson" (exponential
	// gaps at the same mean rate). Default uniform.
	Arrival string `yaml:"arrival"`
	// Keys is how counted keys are picked.
	Keys Keys `yaml:"keys"`
	// Types are the event types with their shares and values (default:
	// VIEW only, value 1).
	Types []Type `yaml:"types"`
	// Dims are the dimensions every event carries (default none).
	Dims []Dim `yaml:"dims"`
	// Disorder shifts event times against send times.
	Disorder Disorder `yaml:"disorder"`
	// Duplicates re-send events with the same id.
	Duplicates Duplicates `yaml:"duplicates"`
	// Malformed sends invalid events.
	Malformed Malformed `yaml:"malformed"`
	// Hostile mixes in hostile events: each one refused with the
	// contract's reason code or accepted and counted (sim.HostileKinds).
	Hostile Hostile `yaml:"hostile,omitempty"`
	// Via is "gateway" (HTTP batches to the ingest gateway) or "kafka"
	// (a producer straight to the events topic). Default gateway.
	Via string `yaml:"via"`
	// Format is "json" or "protobuf". Default json.
	Format string `yaml:"format"`
	// Routes, instead of Via and Format, spread the events over several
	// entry points: each event goes through a route drawn by the routes'
	// weights (a re-sent duplicate draws again).
	Routes []Route `yaml:"routes,omitempty"`
	// routesWithVia is set when Via or Format was given with Routes.
	routesWithVia bool
	// Connections is the number of batches in flight at once (default 8).
	Connections int `yaml:"connections"`
	// Batch is how events are batched.
	Batch Batch `yaml:"batch"`
}

// Rate is a rate shape, in events a second.
type Rate struct {
	// Shape is constant, ramp, spike or diurnal. Default constant.
	Shape string `yaml:"shape"`
	// EventsPerS is the rate (constant), the start rate (ramp), the base
	// rate (spike) or the mean rate (diurnal).
	EventsPerS float64 `yaml:"events_per_s"`
	// ToEventsPerS is the end rate of a ramp.
	ToEventsPerS float64 `yaml:"to_events_per_s"`
	// Over is how long a ramp takes (default: the whole duration).
	Over time.Duration `yaml:"over"`
	// PeakEventsPerS is the rate during a spike.
	PeakEventsPerS float64 `yaml:"peak_events_per_s"`
	// At is when a spike starts, from the start of the run.
	At time.Duration `yaml:"at"`
	// For is how long a spike lasts.
	For time.Duration `yaml:"for"`
	// Amplitude is a diurnal rate's swing around its mean, in [0, 1].
	Amplitude float64 `yaml:"amplitude"`
	// Period is a diurnal rate's period (default: the whole duration).
	Period time.Duration `yaml:"period"`
}

// Keys is the key distribution.
type Keys struct {
	// Distribution is zipf, uniform or hotspot. Default zipf.
	Distribution string `yaml:"distribution"`
	// Count is the number of distinct keys.
	Count int `yaml:"count"`
	// ZipfS is the Zipf exponent (> 0; 1.1 is web-like skew).
	ZipfS float64 `yaml:"zipf_s"`
	// Prefix starts every key name (default "k").
	Prefix string `yaml:"prefix"`
	// Hot is the size of a hotspot's hot set.
	Hot int `yaml:"hot"`
	// HotShare is the share of the events a hotspot's hot set gets.
	HotShare float64 `yaml:"hot_share"`
	// HotPeriod is how often a hotspot's hot set moves (0: never).
	HotPeriod time.Duration `yaml:"hot_period"`
	// ChurnPerS shifts the key space by this many new keys a second.
	ChurnPerS float64 `yaml:"churn_per_s"`
}

// Type is one event type.
type Type struct {
	// Name is the event type (VIEW, LIKE, SHARE, CLICK, IMPRESSION, VISIT).
	Name string `yaml:"name"`
	// Weight is its share of the events, relative to the other types.
	Weight float64 `yaml:"weight"`
	// ValueMin and ValueMax bound its whole-number values (default 1..1).
	ValueMin int64 `yaml:"value_min"`
	ValueMax int64 `yaml:"value_max"`
}

// Dim is one dimension.
type Dim struct {
	// Name is the dimension name ([A-Za-z0-9_]+).
	Name string `yaml:"name"`
	// Values lists its values; or give Count for v1..vN.
	Values []string `yaml:"values"`
	// Count is the number of generated values, when Values is empty.
	Count int `yaml:"count"`
	// Skew is the Zipf exponent of the values (0: uniform).
	Skew float64 `yaml:"skew"`
}

// Disorder shifts event times.
type Disorder struct {
	// OutOfOrder is the fraction of events sent up to MaxDelay after their
	// event time (within the allowed lateness: still counted).
	OutOfOrder float64 `yaml:"out_of_order"`
	// MaxDelay bounds that delay (default 3s).
	MaxDelay time.Duration `yaml:"max_delay"`
	// TooLate is the fraction of events sent after their window closed
	// (beyond the allowed lateness): counted only after a reconcile.
	TooLate float64 `yaml:"too_late"`
	// ClockSkew is the largest client clock offset (clients spread over
	// ±ClockSkew).
	ClockSkew time.Duration `yaml:"clock_skew"`
	// Clients is the number of clients with their own clock (default 1).
	Clients int `yaml:"clients"`
}

// Duplicates re-sends events.
type Duplicates struct {
	// Fraction of the sends that re-send a recent event with its id.
	Fraction float64 `yaml:"fraction"`
	// Burst is how many times in a row a duplicate is sent (default 1).
	Burst int `yaml:"burst"`
}

// Malformed sends invalid events.
type Malformed struct {
	// Fraction of the sends that are invalid events.
	Fraction float64 `yaml:"fraction"`
	// Kinds to send (default all): type, key, ts, value_text, ts_text,
	// dims, unknown_field.
	Kinds []string `yaml:"kinds"`
}

// Hostile mixes hostile events into the traffic.
type Hostile struct {
	// Fraction of the sends that are hostile events, in [0, 1) (with
	// duplicates and malformed, below 1).
	Fraction float64 `yaml:"fraction"`
	// Kinds maps each hostile kind to send to its weight, relative to the
	// others (default: every kind of sim.HostileKinds, equally).
	Kinds map[string]float64 `yaml:"kinds,omitempty"`
}

// Route is one entry point of a traffic mix.
type Route struct {
	// Via is "gateway" or "kafka", as traffic.via.
	Via string `yaml:"via"`
	// Format is "json" or "protobuf", as traffic.format.
	Format string `yaml:"format"`
	// Weight is the route's share of the events, relative to the other
	// routes (default 1).
	Weight float64 `yaml:"weight"`
}

// Batch is the batching of sends.
type Batch struct {
	// MaxEvents is the most events per batch (default 500).
	MaxEvents int `yaml:"max_events"`
	// Flush is how often due events are sent (default 5ms).
	Flush time.Duration `yaml:"flush"`
}

// Probes are measurements taken during the run.
type Probes struct {
	// QueriesPerS is the rate of the open-model query load whose latency
	// is reported (default 20; 0 in the file takes the default).
	QueriesPerS float64 `yaml:"queries_per_s"`
	// TracerEvery is how often a tracer event is sent to measure
	// end-to-end freshness (default 1s).
	TracerEvery time.Duration `yaml:"tracer_every"`
}

// Engine is the embedded engine's setup.
type Engine struct {
	// Partitions of each topic (default 4).
	Partitions int `yaml:"partitions"`
	// Workers is the number of aggregator workers (default 1).
	Workers int `yaml:"workers"`
	// Windows are the tumbling window sizes, whole seconds (default [1m]).
	Windows []time.Duration `yaml:"windows"`
	// Lateness is the allowed lateness after a window's end (default 15s).
	Lateness time.Duration `yaml:"lateness"`
	// OutOfOrderness is the watermark's bounded out-of-orderness (default 5s).
	OutOfOrderness time.Duration `yaml:"out_of_orderness"`
	// CommitInterval is the engine's transaction commit interval (default 250ms).
	CommitInterval time.Duration `yaml:"commit_interval"`
	// HotKeys splits hot counted keys over several partitions, key -> N
	// (2..partitions): the embedded gateway, engine workers, reconcile and
	// the Kafka route give an event of key K the record key "K#i", i =
	// FNV-1a-64(id) mod N (the gateway's and engine's --hot-key), so K's
	// load spreads over up to N partitions; the engine keeps one total per
	// partition and reads sum them, still exact. A key is one of the
	// traffic's (traffic.keys.prefix and an index below traffic.keys.count:
	// k0 is a Zipf's hottest). Without it, the partition that holds the
	// hottest keys bounds what one engine goroutine can take (stress).
	// Default: none. The embedded stack's engine only (a --target's
	// pipeline has its own; countlab plan's trials do not split keys).
	HotKeys map[string]int `yaml:"hot_keys,omitempty"`
	// QueryMemory is how far back the query service keeps window totals
	// in memory (default 2h, query.DefaultRetention); older ranges are
	// read from InfluxDB. Its memory grows with the windows written over
	// it (at 20k events/s over 10,000 keys, ~9 MB a minute), so a long
	// run sets it short to keep the embedded stack flat.
	QueryMemory time.Duration `yaml:"query_memory,omitempty"`
	// GatewayMaxEventsPerS caps the ingest gateway's admission at this
	// many events a second (a token bucket with one second's burst): the
	// pipeline's explicit capacity, beyond which the gateway answers 429
	// with Retry-After (the overload fault). 0 (default): no cap.
	GatewayMaxEventsPerS float64 `yaml:"gateway_max_events_per_s,omitempty"`
	// GatewayMaxInFlight caps the events the gateway has in flight to
	// Kafka at once (429 beyond it); 0: the gateway's default (100000).
	GatewayMaxInFlight int `yaml:"gateway_max_in_flight,omitempty"`
	// SessionTimeout is the engine workers' consumer-group session
	// timeout, 6s..5m (default: the client's, 45s): how long a frozen or
	// crashed worker keeps its partitions before it is fenced.
	SessionTimeout time.Duration `yaml:"session_timeout,omitempty"`
	// Processes runs the engine workers as their own `countlab engine`
	// processes (as --engine-procs does), so that their memory and
	// goroutines are measured apart from countlab's (soak).
	Processes bool `yaml:"processes,omitempty"`
	// Retention is the retention config (engine/rollup.Config, the one
	// place retention is set): the granularities (each one of windows,
	// finest first) with how long each is kept and the retention policy it
	// is stored in, and the raw events topic's retention. With it the run
	// also checks the granularities and window=auto ranges (retention.go).
	// Default: none, every total kept forever in one bucket.
	Retention *rollup.Config `yaml:"retention,omitempty"`
}

// Fault is one fault to inject: name, kind (one of faults.Kinds(); `countlab
// run -h` lists them with their params), start, duration and the kind's
// params.
type Fault = faults.Spec

// SLO are the thresholds of a pass; a zero threshold is not checked.
type SLO struct {
	// MinThroughputEventsPerS is the least achieved (acknowledged) rate.
	MinThroughputEventsPerS float64 `yaml:"min_throughput_events_per_s"`
	// MaxP99IngestAckMS is the most p99 ingest acknowledgement latency.
	MaxP99IngestAckMS float64 `yaml:"max_p99_ingest_ack_ms"`
	// MaxP99FreshnessMS is the most p99 event-sent-to-visible latency.
	MaxP99FreshnessMS float64 `yaml:"max_p99_freshness_ms"`
	// MaxP99QueryMS is the most p99 query latency.
	MaxP99QueryMS float64 `yaml:"max_p99_query_ms"`
	// AccuracyExact requires every window to equal the truth exactly.
	AccuracyExact bool `yaml:"accuracy_exact"`
	// MaxRSSSlopeMiBPerH is the most resident-memory growth, in MiB an
	// hour (least-squares slope after the warm-up), of each process of the
	// stack but countlab's own: engine worker processes and influxd.
	MaxRSSSlopeMiBPerH float64 `yaml:"max_rss_slope_mib_per_h,omitempty"`
	// MaxHarnessRSSSlopeMiBPerH is the most growth of countlab's own
	// process, which holds the truth (every event id sent) and the
	// embedded broker's log: it grows with the traffic by design.
	MaxHarnessRSSSlopeMiBPerH float64 `yaml:"max_harness_rss_slope_mib_per_h,omitempty"`
	// MaxHarnessRSSMiB is the most resident memory of countlab's own
	// process at the end of the run, in MiB (a long run with the rolling
	// check and retention keeps it bounded).
	MaxHarnessRSSMiB float64 `yaml:"max_harness_rss_mib,omitempty"`
	// MaxGoroutineSlopePerH is the most goroutine growth an hour of each
	// process whose goroutines are measured (countlab included).
	MaxGoroutineSlopePerH float64 `yaml:"max_goroutine_slope_per_h,omitempty"`
	// ResourceWarmup is the share of the run left out of the slope fits
	// (default 0.2).
	ResourceWarmup float64 `yaml:"resource_warmup,omitempty"`
}

// Saturation are the thresholds of the saturation rules; zero fields take
// the defaults (in parentheses). A threshold rule must hold Sustain
// samples (seconds) in a row; a lag rule GrowFor samples.
type Saturation struct {
	// Sustain is the streak a threshold rule must hold for (3).
	Sustain int `yaml:"sustain,omitempty"`
	// SenderLagMS: the generator saturated when the sender is this far
	// behind its schedule (1000) while fewer than SenderBusy (0.9) of its
	// connections are busy.
	SenderLagMS float64 `yaml:"sender_lag_ms,omitempty"`
	SenderBusy  float64 `yaml:"sender_busy,omitempty"`
	// ThrottledShare: the gateway saturated when this share of its
	// requests is answered 429/503 (0.01).
	ThrottledShare float64 `yaml:"throttled_share,omitempty"`
	// RequestP99MS: the gateway saturated when the request round-trip p99
	// is above this (1000) while Kafka's produce p99 is within
	// ProduceP99MS.
	RequestP99MS float64 `yaml:"request_p99_ms,omitempty"`
	// ProduceP99MS: the broker saturated when the gateway's Kafka
	// produce-ack p99 is above this (500).
	ProduceP99MS float64 `yaml:"produce_p99_ms,omitempty"`
	// GrowFor, EngineLagS, SinkLagS, MinLagRecords: the engine (sink)
	// saturated when its consumer lag, in seconds of its input topic's
	// rate, is above EngineLagS (2 s; SinkLagS 5 s, as the sink's lag
	// includes its 3 s linger) and grew in each of GrowFor (5) samples in
	// a row; a lag under MinLagRecords (1000) never crosses.
	GrowFor       int     `yaml:"grow_for,omitempty"`
	EngineLagS    float64 `yaml:"engine_lag_s,omitempty"`
	SinkLagS      float64 `yaml:"sink_lag_s,omitempty"`
	MinLagRecords float64 `yaml:"min_lag_records,omitempty"`
	// InfluxWriteMS: the sink saturated when InfluxDB's mean write request
	// is above this (1000).
	InfluxWriteMS float64 `yaml:"influx_write_ms,omitempty"`
}

// Baseline holds the regression gate's minimum effects (reports.Gate): a
// metric regressed only when its runs rank worse than the baseline's and
// the change is at least its relative AND its absolute minimum effect.
type Baseline struct {
	// Tolerances are relative minimum effects per metric (0.2 = 20% worse
	// is still fine). Metrics: achieved_events_per_s, ingest_ack_p99,
	// freshness_p99, query_p99 (and _p50, _p90, _p999, _max of each
	// latency). A metric not listed uses Default, or its own default
	// (reports.DefaultEffect: 10% for throughput, 30% for latencies).
	Tolerances map[string]float64 `yaml:"tolerances"`
	// Default, when set, is the relative minimum effect of unlisted
	// metrics.
	Default float64 `yaml:"default"`
	// MinAbs are absolute minimum effects per metric, in its unit (ms,
	// events/s); unlisted metrics use reports.DefaultEffect (1 ms for a
	// p50 latency up to 10 ms for a p99.9, 25 times that for freshness;
	// 50 events/s).
	MinAbs map[string]float64 `yaml:"min_abs,omitempty"`
	// Alpha is the significance level of the rank test between the runs
	// (default 0.05).
	Alpha float64 `yaml:"alpha,omitempty"`
}
