package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/influxd"
	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/engine/kafka"
)

// countlab reconcile against a real broker and influxd: the first run
// writes the missing windows and, with --fail-on-diff, exits 1; the second
// finds nothing. No engine runs: a group of the test's own, committed at
// the end of the events topic, stands for one that processed everything,
// and a last event per key far after the range proves every window closed.
func TestReconcileCommand(t *testing.T) {
	srv := influxdtest.Start(t, influxd.StartTimeout(2*time.Minute))
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("events"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := kafka.EnsureTopics(ctx, cl, kafka.DefaultTopics(""), 2, -1); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := range 100 {
		e := event.Event{ID: strconv.Itoa(i % 90), Key: fmt.Sprint("k", i%3), Type: "VIEW", Value: 1, TS: from.UnixMilli() + int64(i)*1000}
		// A replay of the past: the record timestamp (the validation's
		// reference time) is the event time.
		recs = append(recs, &kgo.Record{Key: []byte(e.Key), Value: event.AppendJSON(nil, &e), Timestamp: time.UnixMilli(e.TS)})
	}
	for k := range 3 {
		e := event.Event{ID: fmt.Sprint("marker-", k), Key: fmt.Sprint("k", k), Type: "VIEW", Value: 1, TS: from.Add(3 * time.Hour).UnixMilli()}
		// A replay of the past: the record timestamp (the validation's
		// reference time) is the event time.
		recs = append(recs, &kgo.Record{Key: []byte(e.Key), Value: event.AppendJSON(nil, &e), Timestamp: time.UnixMilli(e.TS)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	const group = "reconcile-cmd-test-engine"
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	var offs kadm.Offsets
	ends.Each(func(o kadm.ListedOffset) { offs.AddOffset(o.Topic, o.Partition, o.Offset, -1) })
	if err := adm.CommitAllOffsets(ctx, group, offs); err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config()
	args := []string{"--brokers", c.ListenAddrs()[0], "--from", from.Format(time.RFC3339), "--to", strconv.FormatInt(from.Add(time.Hour).UnixMilli(), 10),
		"--windows", "1m,1h", "--influx-url", cfg.URL, "--influx-bucket", cfg.Bucket,
		"--engine-group", group, "--wait-for-engine", "0", "--lateness", "0", "--out-of-orderness", "2s", "--fail-on-diff"}
	f := func(wantDiff int, wantExit bool) {
		t.Helper()
		var out bytes.Buffer
		err := runReconcile(ctx, args, &out)
		var ee exitError
		if wantExit != errors.As(err, &ee) || (err != nil && !wantExit) {
			t.Fatalf("err %v, want exit error %v\n%s", err, wantExit, out.String())
		}
		var res struct {
			EventsRead         int `json:"events_read"`
			Duplicates         int `json:"duplicates"`
			WindowsChecked     int `json:"windows_checked"`
			WindowsDiffering   int `json:"windows_differing"`
			WindowsRewritten   int `json:"windows_rewritten"`
			WindowsSkippedOpen int `json:"windows_skipped_open"`
		}
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		// 100 events, ids 0..89 (id i and i+90 have the same key: 10
		// duplicates of (key, id)).
		if res.EventsRead != 103 || res.WindowsDiffering != wantDiff || res.WindowsRewritten != wantDiff ||
			res.WindowsSkippedOpen != 0 || res.WindowsChecked == 0 {
			t.Fatalf("result %+v, want 103 read and %d differing and rewritten", res, wantDiff)
		}
	}
	var first bytes.Buffer
	if err := runReconcile(ctx, append(args[:len(args)-1:len(args)-1], "--dry-run"), &first); err != nil {
		t.Fatal(err)
	}
	var dry struct {
		WindowsDiffering int `json:"windows_differing"`
		WindowsRewritten int `json:"windows_rewritten"`
	}
	if err := json.Unmarshal(first.Bytes(), &dry); err != nil || dry.WindowsDiffering == 0 || dry.WindowsRewritten != 0 {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	// Without the engine's offsets nothing is provably safe.
	var blind bytes.Buffer
	noEngine := append(append([]string{}, args[:len(args)-1]...), "--dry-run", "--engine-group", "nobody")
	if err := runReconcile(ctx, noEngine, &blind); err != nil {
		t.Fatal(err)
	}
	var skip struct {
		WindowsDiffering       int     `json:"windows_differing"`
		WindowsSkippedOpen     int     `json:"windows_skipped_open"`
		PartitionsEngineBehind []int32 `json:"partitions_engine_behind"`
	}
	if err := json.Unmarshal(blind.Bytes(), &skip); err != nil || skip.WindowsSkippedOpen != dry.WindowsDiffering ||
		skip.WindowsDiffering != dry.WindowsDiffering || len(skip.PartitionsEngineBehind) == 0 {
		t.Fatalf("no engine: %+v %v, want all %d skipped", skip, err, dry.WindowsDiffering)
	}
	f(dry.WindowsDiffering, true)
	f(0, false)

	if err := runReconcile(ctx, []string{"--brokers", "x:1", "--from", "yesterday", "--to", "1", "--influx-url", "http://x"}, &bytes.Buffer{}); !errors.As(err, new(usageError)) {
		t.Fatalf("bad --from: %v, want a usage error", err)
	}
}
