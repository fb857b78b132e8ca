package scenarios

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Plans shipped with countlab: `countlab plan small`.
//
//go:embed plans/*.yaml
var shippedPlans embed.FS

// Plan is one capacity-planning file: the traffic of every trial, the
// grid of engine shapes to measure, the SLOs that define a sustainable
// rate, how the maximum sustainable rate is searched for, and the
// production target the fitted scalability model answers for.
type Plan struct {
	// Name identifies the plan in reports ([a-z0-9-]+).
	Name string `yaml:"name"`
	// Description says what the plan measures, in a sentence or two.
	Description string `yaml:"description"`
	// Seed makes the traffic reproducible.
	Seed uint64 `yaml:"seed"`
	// Traffic is what every trial sends, as in a scenario, without a
	// rate: the search sets a constant rate per trial.
	Traffic Traffic `yaml:"traffic"`
	// Engine is the engine's windows, lateness, out-of-orderness and
	// commit interval, as in a scenario; partitions and workers come from
	// the grid and must be left out here.
	Engine Engine `yaml:"engine"`
	// Grid is the engine shapes measured: every partitions x workers
	// cell, each on its own freshly started stack.
	Grid Grid `yaml:"grid"`
	// SLO are the latency thresholds a sustainable trial holds
	// (max_p99_ingest_ack_ms, max_p99_freshness_ms) and whether every
	// cell's events must be counted exactly (accuracy_exact, checked once
	// per cell after its last trial). min_throughput_events_per_s and
	// max_p99_query_ms do not apply to a plan.
	SLO SLO `yaml:"slo"`
	// Search is how the maximum sustainable rate of a cell is found.
	Search Search `yaml:"search"`
	// Target is the production load the recommendation is for.
	Target Target `yaml:"target"`
}

// Grid is the engine shapes measured.
type Grid struct {
	// Partitions are the partition counts of the events topic (each >= 1).
	Partitions []int `yaml:"partitions"`
	// Workers are the engine worker counts (each >= 1), run as separate
	// `countlab engine` processes. The scalability model is fitted to
	// throughput against workers.
	Workers []int `yaml:"workers"`
}

// Search is the search of one cell's maximum sustainable rate: a ramp of
// trials, each RampFactor times the last, from StartEventsPerS until a
// trial is not sustainable (or MaxEventsPerS is reached), then a binary
// search between the last sustainable rate and the first one that was
// not, until they are within Precision or MaxSearchSteps trials ran.
type Search struct {
	// StartEventsPerS is the rate of the first ramp trial (> 0).
	StartEventsPerS float64 `yaml:"start_events_per_s"`
	// MaxEventsPerS caps the ramp: a cell sustainable here is reported as
	// "at least" this rate.
	MaxEventsPerS float64 `yaml:"max_events_per_s"`
	// RampFactor multiplies the rate from one ramp trial to the next
	// (> 1; default 2).
	RampFactor float64 `yaml:"ramp_factor"`
	// StepDuration is how long a ramp trial sends (default 10s).
	StepDuration time.Duration `yaml:"step_duration"`
	// TrialDuration is how long a binary-search trial sends (default 15s).
	TrialDuration time.Duration `yaml:"trial_duration"`
	// Precision ends the binary search when (bad - good) / good is at
	// most this (default 0.05).
	Precision float64 `yaml:"precision"`
	// MaxSearchSteps bounds the binary-search trials of a cell (default 4).
	MaxSearchSteps int `yaml:"max_search_steps"`
	// MinAchievedRatio is the least share of the offered rate that must be
	// answered (acknowledged, or refused by the contract) for a trial to be
	// sustainable (default 0.95).
	MinAchievedRatio float64 `yaml:"min_achieved_ratio"`
	// MaxLagGrowth bounds the growth of the engine's consumer lag over a
	// trial's second half, as a share of the offered rate per second
	// (default 0.05: the lag may grow by at most 5% of the rate a
	// second, i.e. the engine keeps up with at least 95% of it).
	MaxLagGrowth float64 `yaml:"max_lag_growth"`
	// DrainTimeout bounds the wait, after a trial, for the engine's and
	// the sink's lag to drain before the next trial (default 60s).
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// TracerEvery is how often a tracer event measures end-to-end
	// freshness during a trial (default 500ms).
	TracerEvery time.Duration `yaml:"tracer_every"`
}

// Target is the production load the plan answers for.
type Target struct {
	// EventsPerDay is the daily event volume (e.g. 1e9).
	EventsPerDay float64 `yaml:"events_per_day"`
	// PeakFactor is the peak rate over the day's mean rate (e.g. 5).
	PeakFactor float64 `yaml:"peak_factor"`
	// Keys is the number of distinct counted keys in production (e.g. 2e6).
	Keys float64 `yaml:"keys"`
	// ZipfS is production's key skew (Zipf exponent; 0: uniform): it sizes
	// the hottest key, which one partition (one worker) must carry alone.
	ZipfS float64 `yaml:"zipf_s"`
	// NodeEventsPerS is a per-machine throughput figure (events/s one
	// machine sustains), when known; give it or CoresPerNode.
	NodeEventsPerS float64 `yaml:"node_events_per_s"`
	// CoresPerNode is the cores of one machine; with CoresPerWorker it
	// says how many workers a machine runs.
	CoresPerNode int `yaml:"cores_per_node"`
	// CoresPerWorker is the cores one engine worker is given (default 1).
	CoresPerWorker float64 `yaml:"cores_per_worker"`
	// Headroom is the share of capacity kept free at peak (e.g. 0.3: the
	// peak may use at most 70% of the capacity); in [0, 1).
	Headroom float64 `yaml:"headroom"`
}

// Defaults of a plan's search.
const (
	DefaultRampFactor       = 2
	DefaultStepDuration     = 10 * time.Second
	DefaultTrialDuration    = 15 * time.Second
	DefaultPrecision        = 0.05
	DefaultMaxSearchSteps   = 4
	DefaultMinAchievedRatio = 0.95
	DefaultMaxLagGrowth     = 0.05
	DefaultPlanDrainTimeout = 60 * time.Second
	DefaultTracerEveryPlan  = 500 * time.Millisecond
)

// PeakEventsPerS is the target's peak rate: events_per_day / 86400 *
// peak_factor.
func (t Target) PeakEventsPerS() float64 { return t.EventsPerDay / 86400 * t.PeakFactor }

// ParsePlan decodes a plan strictly (an unknown field or a value of the
// wrong type is an error naming the field's path, with a hint), fills the
// defaults and validates it. name is for messages (the file name).
func ParsePlan(name string, data []byte) (*Plan, error) {
	var p Plan
	if err := decodeStrict(name, data, &p, "name:, traffic:, grid:, search: and target:"); err != nil {
		return nil, err
	}
	return &p, nil
}

// LoadPlan reads and parses the plan file path.
func LoadPlan(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePlan(path, data)
}

// LookupPlan loads a plan by file path, or by the name of a shipped one
// ("small").
func LookupPlan(nameOrPath string) (*Plan, error) {
	if isFileArg(nameOrPath) {
		return LoadPlan(nameOrPath)
	}
	data, err := ShippedPlan(nameOrPath)
	if err != nil {
		return nil, fmt.Errorf("no plan file %q and no shipped plan of that name (shipped: %s)", nameOrPath, strings.Join(PlanNames(), ", "))
	}
	return ParsePlan(nameOrPath+".yaml", data)
}

// PlanNames are the shipped plans' names, sorted.
func PlanNames() []string { return yamlNames(shippedPlans, "plans") }

// ShippedPlan returns the YAML of a shipped plan.
func ShippedPlan(name string) ([]byte, error) {
	return shippedPlans.ReadFile("plans/" + name + ".yaml")
}

func (p *Plan) applyDefaults() {
	s := &p.Search
	if s.RampFactor == 0 {
		s.RampFactor = DefaultRampFactor
	}
	if s.StepDuration == 0 {
		s.StepDuration = DefaultStepDuration
	}
	if s.TrialDuration == 0 {
		s.TrialDuration = DefaultTrialDuration
	}
	if s.Precision == 0 {
		s.Precision = DefaultPrecision
	}
	if s.MaxSearchSteps == 0 {
		s.MaxSearchSteps = DefaultMaxSearchSteps
	}
	if s.MinAchievedRatio == 0 {
		s.MinAchievedRatio = DefaultMinAchievedRatio
	}
	if s.MaxLagGrowth == 0 {
		s.MaxLagGrowth = DefaultMaxLagGrowth
	}
	if s.DrainTimeout == 0 {
		s.DrainTimeout = DefaultPlanDrainTimeout
	}
	if s.TracerEvery == 0 {
		s.TracerEvery = DefaultTracerEveryPlan
	}
	if p.Target.CoresPerWorker == 0 {
		p.Target.CoresPerWorker = 1
	}
}

// TrialScenario is the scenario of one trial of the plan: the plan's
// traffic at a constant rate for d, on an engine of partitions x
// workers. Its defaults are filled.
func (p *Plan) TrialScenario(rate float64, d time.Duration, partitions, workers int) *Scenario {
	sc := &Scenario{
		Name:        p.Name,
		Description: p.Description,
		Duration:    d,
		Seed:        p.Seed,
		Traffic:     p.Traffic,
		Engine:      p.Engine,
		SLO:         p.SLO,
	}
	sc.Traffic.Types = slices.Clone(p.Traffic.Types)
	sc.Traffic.Rate = Rate{Shape: "constant", EventsPerS: rate}
	sc.Engine.Partitions, sc.Engine.Workers = partitions, workers
	sc.applyDefaults()
	return sc
}

// Validate checks every field and returns Errors naming each bad one with
// its path and a hint, or nil.
func (p *Plan) Validate() error {
	var es Errors
	bad := badAt(&es)
	if !nameRe.MatchString(p.Name) {
		bad("name", "small", "must be lower-case letters, digits and '-' (got %q)", p.Name)
	}
	// The traffic, engine and SLOs are a scenario's: validate one trial.
	if p.Traffic.Rate != (Rate{}) {
		bad("traffic.rate", "leaving it out", "the search sets the rate of every trial")
	}
	if p.Engine.Partitions != 0 {
		bad("engine.partitions", "grid.partitions: [4, 8]", "the grid sets the partitions")
	}
	if p.Engine.Workers != 0 {
		bad("engine.workers", "grid.workers: [1, 2]", "the grid sets the workers")
	}
	if p.SLO.MinThroughputEventsPerS != 0 {
		bad("slo.min_throughput_events_per_s", "leaving it out", "does not apply to a plan: the search finds the throughput")
	}
	if p.SLO.MaxP99QueryMS != 0 {
		bad("slo.max_p99_query_ms", "leaving it out", "does not apply to a plan: trials send no query load")
	}
	sc := p.TrialScenario(1, time.Minute, 1, 1)
	sc.Name = "plan"
	if err := sc.Validate(); err != nil {
		var ses Errors
		if errors.As(err, &ses) {
			for _, e := range ses {
				if strings.HasPrefix(e.Path, "traffic.") || strings.HasPrefix(e.Path, "engine.") || strings.HasPrefix(e.Path, "slo.") {
					es = append(es, e)
				}
			}
		}
	}
	g := &p.Grid
	cells := func(path string, vs []int, hint string, maxV int) {
		if len(vs) == 0 {
			bad(path, hint, "needs at least one value")
		}
		seen := map[int]bool{}
		for i, v := range vs {
			if v < 1 || v > maxV {
				bad(path+"["+strconv.Itoa(i)+"]", hint, "must be in [1, %d] (got %d)", maxV, v)
			}
			if seen[v] {
				bad(path+"["+strconv.Itoa(i)+"]", "each value once", "%d given twice", v)
			}
			seen[v] = true
		}
	}
	cells("grid.partitions", g.Partitions, "[4, 8]", 1024)
	cells("grid.workers", g.Workers, "[1, 2]", 64)
	if len(g.Partitions) > 0 && len(g.Workers) > 0 && slices.Max(g.Workers) > slices.Max(g.Partitions) {
		bad("grid.workers", "at most as many workers as partitions", "a worker without a partition is idle: the most workers (%d) exceeds the most partitions (%d)",
			slices.Max(g.Workers), slices.Max(g.Partitions))
	}
	s := &p.Search
	pos := func(path, hint string, v float64) bool {
		if !(v > 0) || math.IsInf(v, 0) {
			bad(path, hint, "must be > 0 (got %v)", v)
			return false
		}
		return true
	}
	if pos("search.start_events_per_s", "5000", s.StartEventsPerS) && pos("search.max_events_per_s", "200000", s.MaxEventsPerS) &&
		s.MaxEventsPerS < s.StartEventsPerS {
		bad("search.max_events_per_s", "at least start_events_per_s", "must be >= start_events_per_s %v (got %v)", s.StartEventsPerS, s.MaxEventsPerS)
	}
	if !(s.RampFactor > 1) || s.RampFactor > 10 {
		bad("search.ramp_factor", "2", "must be in (1, 10] (got %v)", s.RampFactor)
	}
	dur := func(path, hint string, v, lo, hi time.Duration) {
		if v < lo || v > hi {
			bad(path, hint, "must be in [%s, %s] (got %s)", lo, hi, v)
		}
	}
	dur("search.step_duration", "10s", s.StepDuration, 2*time.Second, 10*time.Minute)
	dur("search.trial_duration", "15s", s.TrialDuration, 2*time.Second, 10*time.Minute)
	dur("search.drain_timeout", "60s", s.DrainTimeout, time.Second, 30*time.Minute)
	dur("search.tracer_every", "500ms", s.TracerEvery, 100*time.Millisecond, time.Minute)
	if !(s.Precision > 0) || s.Precision >= 1 {
		bad("search.precision", "0.05", "must be in (0, 1) (got %v)", s.Precision)
	}
	if s.MaxSearchSteps < 0 || s.MaxSearchSteps > 20 {
		bad("search.max_search_steps", "4", "must be in [0, 20] (got %d)", s.MaxSearchSteps)
	}
	if !(s.MinAchievedRatio > 0) || s.MinAchievedRatio > 1 {
		bad("search.min_achieved_ratio", "0.95", "must be in (0, 1] (got %v)", s.MinAchievedRatio)
	}
	if !(s.MaxLagGrowth > 0) || s.MaxLagGrowth > 1 {
		bad("search.max_lag_growth", "0.05", "must be in (0, 1] (got %v)", s.MaxLagGrowth)
	}
	t := &p.Target
	pos("target.events_per_day", "1e9", t.EventsPerDay)
	if !(t.PeakFactor >= 1) || math.IsInf(t.PeakFactor, 0) {
		bad("target.peak_factor", "5", "must be >= 1 (got %v)", t.PeakFactor)
	}
	if !(t.Keys >= 1) || t.Keys != math.Trunc(t.Keys) || t.Keys > 1e12 {
		bad("target.keys", "2e6", "must be a whole number >= 1 (got %v)", t.Keys)
	}
	if t.ZipfS < 0 || math.IsNaN(t.ZipfS) || t.ZipfS > 10 {
		bad("target.zipf_s", "1.1 (or 0: uniform)", "must be in [0, 10] (got %v)", t.ZipfS)
	}
	switch {
	case t.NodeEventsPerS < 0 || math.IsNaN(t.NodeEventsPerS):
		bad("target.node_events_per_s", "50000", "must be >= 0 (got %v)", t.NodeEventsPerS)
	case t.CoresPerNode < 0:
		bad("target.cores_per_node", "8", "must be >= 0 (got %d)", t.CoresPerNode)
	case t.NodeEventsPerS == 0 && t.CoresPerNode == 0:
		bad("target", "cores_per_node: 8 or node_events_per_s: 50000", "needs cores_per_node or node_events_per_s to count machines")
	case t.NodeEventsPerS > 0 && t.CoresPerNode > 0:
		bad("target", "one of them", "give cores_per_node or node_events_per_s, not both")
	}
	if !(t.CoresPerWorker > 0) || (t.CoresPerNode > 0 && t.CoresPerWorker > float64(t.CoresPerNode)) {
		bad("target.cores_per_worker", "1", "must be > 0 and at most cores_per_node (got %v)", t.CoresPerWorker)
	}
	if t.Headroom < 0 || t.Headroom >= 1 || math.IsNaN(t.Headroom) {
		bad("target.headroom", "0.3", "must be in [0, 1) (got %v)", t.Headroom)
	}
	return sortedErr(es)
}

// ConfigMap is the plan, defaults filled, as the generic map its YAML
// decodes to, for a report's config.
func (p *Plan) ConfigMap() map[string]any {
	b, err := yaml.Marshal(p)
	if err != nil {
		return nil
	}
	var m map[string]any
	if yaml.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}
