package scenarios

import (
	"testing"
	"time"

	"github.com/countlab/countlab/sim"
)

func TestHostileAndRoutesParse(t *testing.T) {
	sc, err := Parse("t.yaml", []byte(base+`  hostile: {fraction: 0.2, kinds: {key_special: 2, ts_future: 1}}
  routes:
    - {via: gateway, format: json}
    - {via: kafka, format: protobuf, weight: 3}
`))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Traffic.Via != "gateway+kafka" || sc.Traffic.Format != "json+protobuf" || sc.Traffic.Routes[0].Weight != 1 {
		t.Fatalf("traffic %+v", sc.Traffic)
	}
	if err := sc.Validate(); err != nil { // again, as a run does after overrides
		t.Fatal(err)
	}
	cfg, err := sc.GeneratorConfig("x-", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := []sim.HostileShare{{Kind: "ts_future", Weight: 1}, {Kind: "key_special", Weight: 2}} // HostileKinds order
	if cfg.Hostile.Fraction != 0.2 || len(cfg.Hostile.Kinds) != 2 || cfg.Hostile.Kinds[0] != want[0] || cfg.Hostile.Kinds[1] != want[1] {
		t.Fatalf("hostile %+v", cfg.Hostile)
	}
	if len(cfg.Routes) != 2 || cfg.Routes[1] != (sim.Route{Weight: 3, Format: sim.Protobuf, Direct: true}) {
		t.Fatalf("routes %+v", cfg.Routes)
	}
	if _, err := sim.NewGenerator(cfg); err != nil {
		t.Fatal(err)
	}
	plain, _ := Parse("t.yaml", []byte(base+"  format: protobuf\n"))
	if rl := plain.Traffic.RouteList(); len(rl) != 1 || rl[0] != (Route{Via: "gateway", Format: "protobuf", Weight: 1}) {
		t.Fatalf("route list %+v", rl)
	}
}

func TestHostileParseErrors(t *testing.T) {
	f := func(name, yaml string, wants ...string) {
		t.Helper()
		_, err := Parse("t.yaml", []byte(base+yaml))
		wantErr(t, name, err, wants...)
	}
	f("unknown field", "  hostile: {fraction: 0.1, kind: x}\n", `traffic.hostile.kind`, `try "kinds"`)
	f("bad fraction", "  hostile: {fraction: 1}\n", `traffic.hostile.fraction: must be a fraction in [0, 1)`)
	f("too much", "  hostile: {fraction: 0.6}\n  duplicates: {fraction: 0.5}\n", `duplicates + malformed + hostile must be < 1`)
	f("unknown kind", "  hostile: {fraction: 0.1, kinds: {key_specal: 1}}\n", `traffic.hostile.kinds.key_specal: unknown hostile kind`, `try "key_special"`)
	f("bad weight", "  hostile: {fraction: 0.1, kinds: {syntax: -1}}\n", `traffic.hostile.kinds.syntax: the weight must be > 0`)
	f("no fraction", "  hostile: {kinds: {syntax: 1}}\n", `traffic.hostile.fraction`, `none would be sent`)
	f("pair batch", "  hostile: {fraction: 0.1}\n  batch: {max_events: 1}\n", `traffic.batch.max_events`, `same_id_variant`)
	f("route via", "  routes: [{via: pigeon, format: json}]\n", `traffic.routes[0].via`, `try gateway or kafka`)
	f("route format", "  routes: [{via: kafka, format: xml}]\n", `traffic.routes[0].format`)
	f("route weight", "  routes: [{via: kafka, format: json, weight: -2}]\n", `traffic.routes[0].weight: must be > 0`)
	f("route and via", "  via: kafka\n  routes: [{via: gateway, format: json}]\n", `traffic.routes`, `must be left out`)
	f("route unknown field", "  routes: [{via: kafka, format: json, share: 1}]\n", `traffic.routes[0].share`)
}
