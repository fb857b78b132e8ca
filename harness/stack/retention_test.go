package stack

import (
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/rollup"
)

// TestEventsRetentionOneNumber: the events topic's retention is given by
// the retention config or the topic retention and ends up in both; two
// different ones are refused.
func TestEventsRetentionOneNumber(t *testing.T) {
	rc := &rollup.Config{Granularities: []rollup.Granularity{{Window: time.Minute}}}
	withEvents := func(d time.Duration) *rollup.Config { r := *rc; r.Events = d; return &r }
	for _, c := range []struct {
		name        string
		ret         *rollup.Config
		topic, want time.Duration
	}{
		{"retention config", withEvents(time.Hour), 0, time.Hour},
		{"topic retention", rc, time.Hour, time.Hour},
		{"both, the same", withEvents(time.Hour), time.Hour, time.Hour},
		{"neither", rc, 0, 0},
	} {
		cfg := defaultCfg()
		Retention(c.ret)(&cfg)
		TopicRetention(kafka.Retention{Events: c.topic})(&cfg)
		if err := cfg.validate(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if cfg.topicRetention.Events != c.want || cfg.retention.Events != c.want {
			t.Errorf("%s: topic retention events %s, retention config events %s, want %s", c.name, cfg.topicRetention.Events, cfg.retention.Events, c.want)
		}
	}
	if rc.Events != 0 {
		t.Error("the caller's retention config was changed")
	}
	cfg := defaultCfg()
	Retention(withEvents(time.Hour))(&cfg)
	TopicRetention(kafka.Retention{Events: 2 * time.Hour})(&cfg)
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("two different events retentions: %v", err)
	}
}
