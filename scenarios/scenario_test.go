package scenarios

import (
	"strings"
	"testing"
	"time"
)

const base = `name: t
duration: 10s
traffic:
  rate: {events_per_s: 100}
  keys: {count: 10, zipf_s: 1.1}
`

func TestShippedScenariosValid(t *testing.T) {
	names := Names()
	for _, want := range []string{"quickstart", "ci-smoke"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("shipped scenarios %v lack %s", names, want)
		}
	}
	for _, n := range names {
		sc, err := Lookup(n)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if sc.Name != n {
			t.Errorf("%s.yaml has name %q", n, sc.Name)
		}
	}
}

func TestDefaults(t *testing.T) {
	sc, err := Parse("t.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Traffic.Via != "gateway" || sc.Traffic.Format != "json" || sc.Engine.Partitions != DefaultPartitions ||
		len(sc.Engine.Windows) != 1 || sc.Engine.Windows[0] != time.Minute || sc.Traffic.Types[0].Name != "VIEW" ||
		sc.DrainTimeout != DefaultDrainTimeout || sc.Traffic.Keys.Distribution != "zipf" {
		t.Fatalf("defaults not applied: %+v", sc)
	}
}

func TestParseErrors(t *testing.T) {
	f := func(name, yaml string, wants ...string) {
		t.Helper()
		_, err := Parse("t.yaml", []byte(yaml))
		wantErr(t, name, err, wants...)
	}
	f("unknown field", base+"  conections: 4\n", `traffic.conections`, `unknown field "conections"`, `try "connections"`)
	f("unknown nested field", strings.Replace(base, "zipf_s: 1.1", "zipf_s: 1.1, zipfs: 2", 1), `traffic.keys.zipfs`, `try "zipf_s"`)
	f("unknown top field", base+"slos: {}\n", `slos`, `try "slo"`)
	f("wrong type number", strings.Replace(base, "zipf_s: 1.1", "zipf_s: steep", 1), `traffic.keys.zipf_s`, `line 5`, `is not a number`, `try a number`)
	f("wrong type duration", strings.Replace(base, "duration: 10s", "duration: [1]", 1), `duration`, `duration like 30s`)
	f("wrong type int", base+"engine: {partitions: many}\n", `engine.partitions`, `whole number`)
	f("bad zipf", strings.Replace(base, "zipf_s: 1.1", "zipf_s: -1", 1), `traffic.keys.zipf_s: must be > 0 (got -1); try 1.1`)
	f("bad rate", strings.Replace(base, "events_per_s: 100", "events_per_s: 0", 1), `traffic.rate.events_per_s: must be > 0`)
	f("bad fraction", base+"  duplicates: {fraction: 1.5}\n", `traffic.duplicates.fraction: must be a fraction in [0, 1] (got 1.5)`)
	f("bad via", base+"  via: carrier-pigeon\n", `traffic.via`, `try gateway or kafka`)
	f("bad type", base+"  types: [{name: PURCHASE}]\n", `traffic.types[0].name`, `unknown event type "PURCHASE"`, `VIEW`)
	f("bad window", base+"engine: {windows: [1500ms]}\n", `engine.windows[0]`, `whole number of seconds`)
	f("hot key not of the traffic", base+"engine: {partitions: 4, hot_keys: {video-1: 2}}\n", `engine.hot_keys.video-1: not a key of the traffic (k0 .. k9`, `try k0`)
	f("hot key index", base+"engine: {partitions: 4, hot_keys: {k10: 2}}\n", `engine.hot_keys.k10: not a key of the traffic`)
	f("hot key padded", base+"engine: {partitions: 4, hot_keys: {k01: 2}}\n", `engine.hot_keys.k01: not a key of the traffic`)
	f("hot key split", base+"engine: {partitions: 4, hot_keys: {k0: 8}}\n", `engine.hot_keys.k0: must split the key 2..engine.partitions ways (got 8); try 4`)
	f("hot key no split", base+"engine: {partitions: 4, hot_keys: {k1: 1}}\n", `engine.hot_keys.k1: must split`)
	f("fault unknown field", base+"faults: [{kill: worker}]\n", `faults[0].kill`, `unknown field "kill"`)
	f("fault unknown kind", base+"faults: [{kind: meteor, start: 1s, duration: 2s}]\n", `faults[0].kind: unknown fault kind "meteor"`,
		`worker-crash, worker-pause, broker-errors, sink-outage`)
	f("fault start", base+"faults: [{kind: sink-outage, start: 20s, duration: 2s}]\n", `faults[0].start: must be in [0, duration)`)
	f("fault duration", base+"faults: [{kind: sink-outage, start: 1s}]\n", `faults[0].duration: must be > 0`)
	f("fault param", base+"faults: [{kind: broker-errors, start: 1s, duration: 2s, params: {error: NOPE}}]\n", `faults[0].params`, `unknown Kafka error "NOPE"`)
	f("fault unknown param", base+"faults: [{kind: sink-outage, start: 1s, duration: 2s, params: {hard: true}}]\n", `faults[0].params`, `unknown param hard`)
	f("fault worker", base+"faults: [{kind: worker-crash, start: 1s, duration: 2s, params: {worker: 3}}]\n", `faults[0].params.worker`, `1 workers`)
	f("fault names", base+"faults: [{name: a, kind: sink-outage, start: 1s, duration: 2s}, {name: a, kind: sink-outage, start: 3s, duration: 2s}]\n",
		`faults[1].name`, `fault "a" given twice`)
	f("disorder too big", base+"  disorder: {out_of_order: 0.1, max_delay: 30s}\n", `traffic.disorder.max_delay`, `half of engine out_of_orderness + lateness`)
	f("bad tolerance", base+"baseline: {tolerances: {ingest_ack_p98: 0.1}}\n", `baseline.tolerances.ingest_ack_p98`, `try "ingest_ack_p9`)
	f("bad name", strings.Replace(base, "name: t", "name: My Scenario", 1), `name: must be lower-case`)
	f("empty", "", "empty file")
	f("two errors", strings.Replace(strings.Replace(base, "zipf_s: 1.1", "zipf_s: 0", 1), "events_per_s: 100", "events_per_s: -5", 1),
		"traffic.keys.zipf_s", "traffic.rate.events_per_s")
}

// wantErr wants err to hold each of wants.
func wantErr(t *testing.T, name string, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", name)
		return
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error\n%v\nlacks %q", name, err, w)
		}
	}
}

func TestLookup(t *testing.T) {
	if _, err := Lookup("no-such-scenario"); err == nil || !strings.Contains(err.Error(), "quickstart") {
		t.Fatalf("Lookup of a missing name: %v (want the shipped names listed)", err)
	}
}

func TestGeneratorConfig(t *testing.T) {
	for _, n := range Names() {
		sc, err := Lookup(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sc.GeneratorConfig("x-", time.Now()); err != nil {
			t.Errorf("%s: %v", n, err)
		}
		if o := sc.OfferedEvents(); o <= 0 {
			t.Errorf("%s: offered %v", n, o)
		}
	}
}

func TestConfigMap(t *testing.T) {
	sc, err := Lookup("quickstart")
	if err != nil {
		t.Fatal(err)
	}
	m := sc.ConfigMap()
	if m["duration"] != "1m0s" || m["name"] != "quickstart" {
		t.Fatalf("config map %v", m)
	}
	tr, ok := m["traffic"].(map[string]any)
	if !ok || tr["via"] != "gateway" {
		t.Fatalf("traffic %v", m["traffic"])
	}
}

func TestFaultsParse(t *testing.T) {
	sc, err := Parse("t.yaml", []byte(base+`engine: {workers: 2}
faults:
  - {name: crash-1, kind: worker-crash, start: 2s, duration: 3s, params: {worker: 1}}
  - kind: broker-errors
    start: 1s
    duration: 2s
    params: {requests: [produce, txn], error: CONCURRENT_TRANSACTIONS, probability: 0.2}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Faults) != 2 {
		t.Fatalf("%d faults", len(sc.Faults))
	}
	f := sc.Faults[0]
	if f.Name != "crash-1" || f.Kind != "worker-crash" || f.Start != 2*time.Second || f.Duration != 3*time.Second || f.Params["worker"] != 1 {
		t.Errorf("fault %+v", f)
	}
	if b := sc.Faults[1]; b.Kind != "broker-errors" || b.Params["probability"] != 0.2 {
		t.Errorf("fault %+v", b)
	}
}
