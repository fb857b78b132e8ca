package scenarios

import "testing"

func TestEnrichmentErrors(t *testing.T) {
	f := func(name, yaml string, wants ...string) {
		t.Helper()
		_, err := Parse("t.yaml", []byte(yaml))
		wantErr(t, name, err, wants...)
	}
	f("unknown field", base+"enrichment: {chanels: 3}\n", `enrichment.chanels`, `try "channels"`)
	f("attribute", base+"enrichment: {attributes: [genre]}\n", `enrichment.attributes`, `channel and title`)
	f("channels", base+"enrichment: {channels: -1}\n", `enrichment.channels`)
	f("late share", base+"enrichment: {late_share: 1}\n", `enrichment.late_share`, `[0, 1)`)
	f("backdate", base+"engine: {lateness: 5s}\nenrichment: {late_backdate: 10s}\n", `enrichment.late_backdate`, `engine.lateness`)
	f("moves", base+"enrichment: {moves: -2}\n", `enrichment.moves`)
	sc, err := Parse("t.yaml", []byte(base+"enrichment: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e := sc.Enrichment; len(e.Attributes) != 1 || e.Attributes[0] != "channel" || e.Channels != 20 || e.ZipfS != 1.1 {
		t.Fatalf("defaults: %+v", e)
	}
}
