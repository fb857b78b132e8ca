package scenarios

import (
	"fmt"
	"testing"
	"time"
)

// TestLongRunFields: rolling_check and topic_retention parse strictly, take
// their defaults, and what cannot work is refused with the field and a fix.
func TestLongRunFields(t *testing.T) {
	sc, err := Parse("t.yaml", []byte(base+"rolling_check: {enabled: true}\ntopic_retention: {events: 5m, changelog: 20m}\nslo: {max_harness_rss_mib: 1024}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rc := sc.RollingCheck
	if !rc.Enabled || rc.Every != 10*time.Second || rc.Settle != 5*time.Second || rc.Margin != 2*time.Minute || rc.IdentityMargin != 2*time.Minute {
		t.Fatalf("defaults %+v", rc)
	}
	if k := sc.TopicRetention.Kafka(); k.Events != 5*time.Minute || k.Changelog != 20*time.Minute || k.Side != 0 {
		t.Fatalf("retention %+v", k)
	}
	f := func(name, yaml string, wants ...string) {
		t.Helper()
		_, err := Parse("t.yaml", []byte(yaml))
		wantErr(t, name, err, wants...)
	}
	f("unknown field", base+"rolling_check: {enabld: true}\n", `rolling_check.enabld`, `try "enabled"`)
	f("late events", base+"  disorder: {too_late: 0.01}\nrolling_check: {enabled: true}\n", `rolling_check.enabled`, `reconcile`)
	f("short changelog", base+"topic_retention: {changelog: 15m}\n", `topic_retention`, `twice the dedup horizon`)
	f("sub-minute", base+"topic_retention: {events: 30s}\n", `topic_retention`, `at least 1m`)
	f("late and short events", base+"  disorder: {too_late: 0.01}\ntopic_retention: {events: 1m}\n", `topic_retention.events`, `duration + drain_timeout + 1m`)
	const ret = "engine:\n  retention: {granularities: [{window: 1m}], events: %s}\n"
	f("events retention twice", base+fmt.Sprintf(ret, "10m")+"topic_retention: {events: 5m}\n", `topic_retention.events`, `one retention`, `engine.retention.events is 10m0s`)
	f("sub-minute engine events", base+fmt.Sprintf(ret, "30s"), `engine.retention.events`, `at least 1m`)
	f("late and short engine events", base+"  disorder: {too_late: 0.01}\n"+fmt.Sprintf(ret, "1m"), `engine.retention.events`, `duration + drain_timeout + 1m`)
	if _, err := Parse("t.yaml", []byte(base+fmt.Sprintf(ret, "5m")+"topic_retention: {events: 5m}\n")); err != nil {
		t.Errorf("the same events retention in both: %v", err)
	}
	f("negative margin", base+"rolling_check: {enabled: true, margin: -1s}\n", `rolling_check.margin`)
	f("short aggregates", base+"topic_retention: {aggregates: 5m}\n", `topic_retention.aggregates`, `twice the largest window plus the lateness`)
	f("short query memory", base+"engine: {query_memory: 1m}\n", `engine.query_memory`, `every open window`)
	sc, err = Parse("t.yaml", []byte(base+"engine: {query_memory: 15m}\ntopic_retention: {aggregates: 10m}\n"))
	if err != nil || sc.Engine.QueryMemory != 15*time.Minute || sc.TopicRetention.Kafka().Aggregates != 10*time.Minute {
		t.Fatalf("query_memory and aggregates retention: %+v %v", sc.Engine, err)
	}
}

// TestParseRetention: a retention config file decodes as strictly as a
// scenario's engine.retention and is validated.
func TestParseRetention(t *testing.T) {
	c, err := ParseRetention("r.yaml", []byte("granularities:\n  - {window: 1m, retention: 168h}\n  - {window: 1h}\nevents: 720h\n"))
	if err != nil || len(c.Granularities) != 2 || c.Granularities[0].Retention != 168*time.Hour || c.Events != 720*time.Hour {
		t.Fatalf("%+v %v", c, err)
	}
	_, err = ParseRetention("r.yaml", []byte("granularities:\n  - {window: 1m, retenton: 1h}\n"))
	wantErr(t, "unknown field", err, `r.yaml:`, `granularities[0].retenton (line 2): unknown field "retenton"; try "retention"`)
	_, err = ParseRetention("r.yaml", []byte("granularities: []\n"))
	wantErr(t, "no granularities", err, "r.yaml: ")
}
