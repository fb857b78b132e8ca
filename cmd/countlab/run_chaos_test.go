package main

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// faultHits is the hits of a report's fault record i.
func faultHits(rep *reports.Report, i int) float64 {
	m, _ := rep.Faults[i].(map[string]any)
	h, _ := m["hits"].(float64)
	return h
}

// TestRunOverload runs overload, shortened: 3x the gateway's capacity for
// a while; the gateway answers 429s, the report counts them, and every
// acknowledged event is counted exactly once.
func TestRunOverload(t *testing.T) {
	if testing.Short() {
		t.Skip("short: TestRunAllAtOnce's seed injects an overload")
	}
	influx := testInflux(t)
	err, rep, dir := runScenario(t, chaos("ov-", 14*time.Second, 4*time.Second, 5*time.Second), append([]string{"overload"}, influx...)...)
	checkChaos(t, err, rep, dir, "overload")
	tr := rep.Traffic
	if tr.Throttled == 0 || faultHits(rep, 0) == 0 {
		t.Fatalf("no 429 at 3x the capacity: traffic %+v, fault %v", tr, rep.Faults[0])
	}
	if off := rep.Throughput.OfferedEventsPerS; off < 400*(14+5*2.75)/14*0.99 {
		t.Errorf("offered %.0f events/s: the overload is not in it", off)
	}
	t.Logf("overload: %d event sends throttled (%v during the fault), %d re-sent, %d failed, %d acknowledged; offered %.0f events/s, achieved %.0f",
		tr.Throttled, faultHits(rep, 0), tr.Resent, tr.Failed, tr.Acked, rep.Throughput.OfferedEventsPerS, rep.Throughput.AchievedEventsPerS)
}

// TestRunClockFaults: a clock skew of half the clients (5 s ahead: the
// watermark jumps) and then a burst of too-late events; every window is
// exact on time (the skewed events counted where their time puts them,
// the late ones not), and again after the reconcile with the late ones.
func TestRunClockFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("short: TestRunAllAtOnce's seed injects a clock-skew and a late-burst")
	}
	influx := testInflux(t)
	short := shorten("ck-", 16*time.Second, 60*time.Second)
	hook := func(sc *scenarios.Scenario) {
		short(sc)
		sc.Engine.GatewayMaxEventsPerS = 0
		sc.Faults = []scenarios.Fault{
			{Name: "skew-ahead", Kind: "clock-skew", Start: 3 * time.Second, Duration: 4 * time.Second,
				Params: map[string]any{"share": 0.5, "offset": "5s"}},
			{Name: "late", Kind: "late-burst", Start: 8 * time.Second, Duration: 4 * time.Second,
				Params: map[string]any{"share": 0.2}},
		}
	}
	err, rep, _ := runScenario(t, hook, append([]string{"overload"}, influx...)...)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	a := rep.Accuracy
	if !rep.Pass || !a.Exact || a.Lost != 0 || a.Duplicated != 0 || a.CountedEvents != a.ExpectedEvents || a.ExpectedEvents < 1000 {
		t.Fatalf("pass=%v accuracy %+v", rep.Pass, a)
	}
	if a.Reconcile == nil || !a.Reconcile.OnTimeExact || a.LateEvents < 100 {
		t.Fatalf("want late events, exact on time and after the reconcile: %+v", a)
	}
	for i, f := range rep.Faults {
		m, _ := f.(map[string]any)
		if m["error"] != nil || m["injected_at"] == nil || m["healed_at"] == nil {
			t.Errorf("fault %d: %v", i, m)
		}
	}
	t.Logf("clock faults: %d events exact in %d windows, %d of them late (counted after the reconcile)", a.CountedEvents, a.WindowsChecked, a.LateEvents)
}

// shortChaosSeed is the seed of TestRunAllAtOnce's short run: with the
// traffic shortened to 40 s and 7 faults, it draws one of each of the 7
// default kinds (clock-skew, overload, sink-outage, broker-errors,
// worker-crash, late-burst, worker-pause).
const shortChaosSeed = 287

// chaosSeeds are the --fault-seed values TestRunAllAtOnce runs:
// shortChaosSeed over a shortened run, or COUNTLAB_CHAOS_SEEDS=1,2,3 (make
// chaos) over the whole scenario.
func chaosSeeds(t *testing.T) (seeds []uint64, full bool) {
	env := os.Getenv("COUNTLAB_CHAOS_SEEDS")
	if env == "" {
		return []uint64{shortChaosSeed}, false
	}
	for _, s := range strings.FieldsFunc(env, listSep) {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("COUNTLAB_CHAOS_SEEDS: %q is not a seed", s)
		}
		seeds = append(seeds, n)
	}
	return seeds, true
}

// TestRunAllAtOnce runs all-at-once for each seed: the faults drawn from
// the seed (every kind the embedded stack supports) over one run, exact
// at the end; the report records the seed and the drawn schedule.
func TestRunAllAtOnce(t *testing.T) {
	influxdtest.Require(t) // sink-outage: the stack's own influxd
	bin := buildCountlab(t)
	engineBinary = func() (string, error) { return bin, nil }
	defer func() { engineBinary = os.Executable }()
	seeds, full := chaosSeeds(t)
	for _, seed := range seeds {
		t.Run("seed-"+strconv.FormatUint(seed, 10), func(t *testing.T) {
			hook := func(sc *scenarios.Scenario) {
				sc.Traffic.Keys.Prefix = "aa" + strconv.FormatUint(seed, 10) + "-"
				sc.SLO.MinThroughputEventsPerS = 0
				if !full {
					sc.Duration = 40 * time.Second
					sc.RandomFaults.Count = 7
				}
			}
			err, rep, _ := runScenario(t, hook, "all-at-once", "--fault-seed", strconv.FormatUint(seed, 10))
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			a := rep.Accuracy
			if !rep.Pass || !a.Exact || a.Lost != 0 || a.Duplicated != 0 || a.CountedEvents != a.ExpectedEvents || a.ExpectedEvents < 1000 {
				t.Fatalf("seed %d: pass=%v accuracy %+v", seed, rep.Pass, a)
			}
			cfg, _ := rep.Config.(map[string]any)
			rf, _ := cfg["random_faults"].(map[string]any)
			drawn, _ := cfg["faults"].([]any)
			if s, _ := rf["seed"].(float64); uint64(s) != seed || len(drawn) == 0 || len(drawn) != len(rep.Faults) {
				t.Fatalf("seed %d: the report's config does not record the seed and the drawn schedule: random_faults %v, faults %v", seed, rf, drawn)
			}
			var kinds []string
			for i, f := range rep.Faults {
				m, _ := f.(map[string]any)
				rec, _ := m["recovery_s"].(float64)
				if m["error"] != nil || m["injected_at"] == nil || m["healed_at"] == nil || rec < 0 {
					t.Errorf("seed %d: fault %d: %v", seed, i, m)
				}
				kinds = append(kinds, m["kind"].(string))
			}
			t.Logf("seed %d: %s; %d events exact in %d windows (%d late, reconciled), %d throttled",
				seed, strings.Join(kinds, ", "), a.CountedEvents, a.WindowsChecked, a.LateEvents, rep.Traffic.Throttled)
		})
	}
}

// TestRunStaging runs against an "external" Kafka cluster (kfake) and
// InfluxDB, both started by the test: faults that need control over them
// are refused before the run unless opted in, the run's topics carry a
// run prefix, and --delete-topics deletes them (and only them).
func TestRunStaging(t *testing.T) {
	influx := testInflux(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ext := append([]string{"--brokers", strings.Join(c.ListenAddrs(), ",")}, influx...)

	refused := func(scenario, flag string) {
		t.Helper()
		err, _, _ := runScenario(t, chaos("st-", 12*time.Second, 3*time.Second, 4*time.Second), append([]string{scenario}, ext...)...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), flag) || !strings.Contains(err.Error(), "external") {
			t.Fatalf("%s against external targets: %v; want a usage error (exit 2) naming %s", scenario, err, flag)
		}
		t.Logf("refused: %v", err)
	}
	refused("sink-outage", "--allow-chaos influx")
	refused("broker-errors", "--allow-chaos broker")

	topics := func() []string {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		td, err := kadm.NewClient(cl).ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return td.Names()
	}
	noFaults := func(prefix string) func(*scenarios.Scenario) {
		short := shorten(prefix, 5*time.Second, 60*time.Second)
		return func(sc *scenarios.Scenario) { short(sc); sc.Faults = nil }
	}
	// A run without --delete-topics leaves its topics, all prefixed.
	err, rep, _ := runScenario(t, noFaults("st1-"), append([]string{"sink-outage"}, ext...)...)
	if err != nil || !rep.Accuracy.Exact {
		t.Fatalf("run against external targets: %v", err)
	}
	first := topics()
	if len(first) < 4 {
		t.Fatalf("topics after the first run: %v", first)
	}
	runPrefix := regexp.MustCompile(`^countlab-[0-9a-z]+-`)
	prefix := runPrefix.FindString(first[0])
	for _, name := range first {
		if prefix == "" || !strings.HasPrefix(name, prefix) {
			t.Fatalf("topic %q has not the run prefix countlab-<run id>- of the others (all: %v)", name, first)
		}
	}
	// With --delete-topics, the run's own topics go, the first run's stay.
	err, rep, _ = runScenario(t, noFaults("st2-"), append([]string{"sink-outage", "--delete-topics"}, ext...)...)
	if err != nil || !rep.Accuracy.Exact {
		t.Fatalf("run with --delete-topics: %v", err)
	}
	if after := topics(); strings.Join(after, ",") != strings.Join(first, ",") {
		t.Fatalf("topics after a run with --delete-topics: %v, want the first run's only: %v", after, first)
	}
	t.Logf("the first run's topics stay (%s), the second run's were deleted", strings.Join(first, ", "))
}

// TestChaosScenarioFields checks the scenario fields of the chaos kinds:
// the gateway's capacity, overlapping faults, a clock-skew's room and
// random_faults (drawn once, recorded in the config).
func TestChaosScenarioFields(t *testing.T) {
	base := "name: x\nduration: 40s\ntraffic: {rate: {events_per_s: 100}, keys: {count: 10, zipf_s: 1.1}}\n"
	f := func(extra, want string) *scenarios.Scenario {
		t.Helper()
		sc, err := scenarios.Parse("x.yaml", []byte(base+extra))
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", extra, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: got %v, want an error with %q", extra, err, want)
		}
		return sc
	}
	f("engine: {gateway_max_events_per_s: 500, gateway_max_in_flight: 1000}", "")
	f("engine: {gateway_max_events_per_s: -1}", "engine.gateway_max_events_per_s")
	f("engine: {gateway_max_in_flight: 10}", "engine.gateway_max_in_flight")
	f("faults: [{kind: overload, start: 1s, duration: 5s}, {kind: overload, start: 3s, duration: 5s}]", "overlap")
	f("faults: [{kind: clock-skew, start: 1s, duration: 5s, params: {offset: -10s}}]", "")
	f("faults: [{kind: clock-skew, start: 1s, duration: 5s, params: {offset: 11s}}]", "faults[0].params.offset")
	f("engine: {lateness: 1m}\nfaults: [{kind: clock-skew, start: 1s, duration: 5s, params: {offset: 30s}}]", "")
	f("random_faults: {seed: 1, count: 500}", "random_faults")
	f("random_faults: {kinds: [meteor]}", "random_faults")
	sc := f("faults: [{kind: sink-outage, start: 10s, duration: 10s}]\nrandom_faults: {seed: 4, count: 4, kinds: [sink-outage, overload]}", "")
	if sc == nil {
		return
	}
	for i := 0; i < 2; i++ {
		if err := sc.ExpandRandomFaults(); err != nil {
			t.Fatal(err)
		}
	}
	if len(sc.Faults) != 5 {
		t.Fatalf("%d faults after drawing 4 (twice) besides 1", len(sc.Faults))
	}
	if err := sc.Validate(); err != nil {
		t.Fatalf("drawn schedule: %v", err)
	}
	cfg := sc.ConfigMap()
	if rf, _ := cfg["random_faults"].(map[string]any); rf["seed"] != 4 || len(cfg["faults"].([]any)) != 5 {
		t.Errorf("config: random_faults %v, faults %v", cfg["random_faults"], cfg["faults"])
	}
}
