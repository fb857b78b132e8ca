package scenarios

import (
	"strings"
	"testing"
	"time"
)

const planBase = `name: p
traffic:
  keys: {count: 100, zipf_s: 1.1}
grid: {partitions: [4, 8], workers: [1, 2]}
search: {start_events_per_s: 1000, max_events_per_s: 100000}
target: {events_per_day: 1e9, peak_factor: 5, keys: 2e6, zipf_s: 1.1, cores_per_node: 8, headroom: 0.3}
`

func TestShippedPlansValid(t *testing.T) {
	names := PlanNames()
	if len(names) == 0 || names[0] == "" {
		t.Fatalf("no shipped plans: %v", names)
	}
	found := false
	for _, n := range names {
		found = found || n == "small"
		p, err := LookupPlan(n)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if p.Name != n {
			t.Errorf("%s.yaml has name %q", n, p.Name)
		}
		if _, err := p.TrialScenario(1000, 10*time.Second, 4, 1).GeneratorConfig("x-", time.Now()); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if !found {
		t.Errorf("shipped plans %v lack small", names)
	}
	// The shipped plans are not scenarios.
	for _, n := range Names() {
		if n == "small" || strings.HasPrefix(n, "plans") {
			t.Errorf("scenario names hold the plan %q", n)
		}
	}
}

func TestPlanDefaults(t *testing.T) {
	p, err := ParsePlan("p.yaml", []byte(planBase))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Search
	if s.RampFactor != DefaultRampFactor || s.StepDuration != DefaultStepDuration || s.TrialDuration != DefaultTrialDuration ||
		s.Precision != DefaultPrecision || s.MaxSearchSteps != DefaultMaxSearchSteps || s.MinAchievedRatio != DefaultMinAchievedRatio ||
		s.MaxLagGrowth != DefaultMaxLagGrowth || s.DrainTimeout != DefaultPlanDrainTimeout || p.Target.CoresPerWorker != 1 {
		t.Fatalf("defaults not applied: %+v", p)
	}
	if peak := p.Target.PeakEventsPerS(); peak < 57870 || peak > 57871 {
		t.Fatalf("peak %v", peak)
	}
	sc := p.TrialScenario(2500, 12*time.Second, 8, 2)
	if sc.Traffic.Rate.EventsPerS != 2500 || sc.Duration != 12*time.Second || sc.Engine.Partitions != 8 || sc.Engine.Workers != 2 ||
		sc.Traffic.Via != "gateway" || sc.Engine.Windows[0] != time.Minute {
		t.Fatalf("trial scenario %+v", sc)
	}
}

func TestPlanErrors(t *testing.T) {
	f := func(name, yaml string, wants ...string) {
		t.Helper()
		_, err := ParsePlan("p.yaml", []byte(yaml))
		wantErr(t, name, err, wants...)
	}
	rep := func(old, new string) string { return strings.Replace(planBase, old, new, 1) }
	f("unknown search field", rep("max_events_per_s: 100000", "max_events_per_s: 100000, ramp_factr: 2"), `search.ramp_factr`, `unknown field "ramp_factr"`, `try "ramp_factor"`)
	f("unknown top field", planBase+"grids: {}\n", `grids`, `try "grid"`)
	f("unknown target field", rep("headroom: 0.3", "headroom: 0.3, cores: 4"), `target.cores`, `unknown field`)
	f("unknown traffic field", rep("zipf_s: 1.1}", "zipf_s: 1.1, zipfs: 2}"), `traffic.keys.zipfs`, `try "zipf_s"`)
	f("wrong type", rep("workers: [1, 2]", "workers: two"), `grid.workers`, `is not a list`)
	f("wrong type duration", rep("max_events_per_s: 100000", "max_events_per_s: 100000, step_duration: [1]"), `search.step_duration`, `duration like 30s`)
	f("rate given", rep("keys: {count: 100", "rate: {events_per_s: 5}\n  keys: {count: 100"), `traffic.rate`, `the search sets the rate`)
	f("engine partitions", planBase+"engine: {partitions: 4}\n", `engine.partitions`, `try grid.partitions`)
	f("traffic validated", rep("zipf_s: 1.1}", "zipf_s: -1}"), `traffic.keys.zipf_s: must be > 0`)
	f("engine validated", planBase+"engine: {windows: [1500ms]}\n", `engine.windows[0]`, `whole number of seconds`)
	f("no grid", rep("grid: {partitions: [4, 8], workers: [1, 2]}", "grid: {partitions: [4]}"), `grid.workers: needs at least one value`)
	f("grid zero", rep("partitions: [4, 8]", "partitions: [0, 8]"), `grid.partitions[0]: must be in [1, 1024]`)
	f("grid twice", rep("workers: [1, 2]", "workers: [2, 2]"), `grid.workers[1]`, `2 given twice`)
	f("idle workers", rep("workers: [1, 2]", "workers: [1, 16]"), `grid.workers`, `exceeds the most partitions`)
	f("bad start", rep("start_events_per_s: 1000", "start_events_per_s: 0"), `search.start_events_per_s: must be > 0`)
	f("max below start", rep("max_events_per_s: 100000", "max_events_per_s: 10"), `search.max_events_per_s: must be >= start_events_per_s`)
	f("bad ramp", rep("max_events_per_s: 100000", "max_events_per_s: 100000, ramp_factor: 1"), `search.ramp_factor: must be in (1, 10]`)
	f("bad precision", rep("max_events_per_s: 100000", "max_events_per_s: 100000, precision: 2"), `search.precision`)
	f("short step", rep("max_events_per_s: 100000", "max_events_per_s: 100000, step_duration: 100ms"), `search.step_duration: must be in [2s, 10m0s]`)
	f("bad ratio", rep("max_events_per_s: 100000", "max_events_per_s: 100000, min_achieved_ratio: 1.5"), `search.min_achieved_ratio`)
	f("slo throughput", planBase+"slo: {min_throughput_events_per_s: 5}\n", `slo.min_throughput_events_per_s: does not apply`)
	f("slo negative", planBase+"slo: {max_p99_ingest_ack_ms: -5}\n", `slo.max_p99_ingest_ack_ms: must be >= 0`)
	f("bad keys", rep("keys: 2e6", "keys: 2.5"), `target.keys: must be a whole number`)
	f("bad peak", rep("peak_factor: 5", "peak_factor: 0.5"), `target.peak_factor: must be >= 1`)
	f("bad headroom", rep("headroom: 0.3", "headroom: 1"), `target.headroom: must be in [0, 1)`)
	f("no node size", rep("cores_per_node: 8, ", ""), `target: needs cores_per_node or node_events_per_s`)
	f("both node sizes", rep("cores_per_node: 8", "cores_per_node: 8, node_events_per_s: 5000"), `target: give cores_per_node or node_events_per_s, not both`)
	f("bad name", rep("name: p", "name: My Plan"), `name: must be lower-case`)
	f("empty", "", "empty file")
	if _, err := LookupPlan("no-such-plan"); err == nil || !strings.Contains(err.Error(), "small") {
		t.Errorf("LookupPlan of a missing name: %v (want the shipped names listed)", err)
	}
}
