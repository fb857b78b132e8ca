package influxd_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/influxd"
	"github.com/countlab/countlab/engine/influxd/influxdtest"
)

// base is the first window start the tests write at.
var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// row is one stored field value, as a Flux query returns it.
type row struct {
	Key   string
	Type  string
	Time  time.Time
	Field string
	Value any
}

func (r row) String() string {
	return fmt.Sprintf("%s/%s@%s %s=%v(%T)", r.Key, r.Type, r.Time.Format(time.RFC3339), r.Field, r.Value, r.Value)
}

// total is a window_total point in the schema of engine/influx.
func total(key, typ string, ts time.Time, count int64, sum float64) *write.Point {
	return influxdb2.NewPoint(influx.Measurement,
		map[string]string{influx.TagKey: key, influx.TagType: typ, influx.TagWindow: "60s"},
		map[string]any{influx.FieldCount: count, influx.FieldSum: sum},
		ts)
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func writePoints(t *testing.T, cfg influx.Config, pts ...*write.Point) {
	t.Helper()
	c := influxdb2.NewClient(cfg.URL, cfg.Credential())
	defer c.Close()
	if err := c.WriteAPIBlocking(cfg.Org, cfg.Bucket).WritePoint(ctxT(t, 10*time.Second), pts...); err != nil {
		t.Fatalf("write: %v", err)
	}
}

const rangeFlux = `from(bucket: %q)
  |> range(start: 2025-12-31T00:00:00Z, stop: 2026-01-02T00:00:00Z)
  |> filter(fn: (r) => r._measurement == %q)`

// readAll returns every stored field value of the test range, sorted.
func readAll(t *testing.T, cfg influx.Config) []row {
	t.Helper()
	rows, err := query(ctxT(t, 10*time.Second), cfg, fmt.Sprintf(rangeFlux, cfg.Bucket, influx.Measurement))
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	return rows
}

func query(ctx context.Context, cfg influx.Config, flux string) ([]row, error) {
	c := influxdb2.NewClient(cfg.URL, cfg.Credential())
	defer c.Close()
	res, err := c.QueryAPI(cfg.Org).Query(ctx, flux)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var rows []row
	for res.Next() {
		r := res.Record()
		k, _ := r.ValueByKey(influx.TagKey).(string)
		ty, _ := r.ValueByKey(influx.TagType).(string)
		rows = append(rows, row{Key: k, Type: ty, Time: r.Time().UTC(), Field: r.Field(), Value: r.Value()})
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].String() < rows[j].String() })
	return rows, nil
}

func sameRows(t *testing.T, got, want []row) {
	t.Helper()
	sort.Slice(want, func(i, j int) bool { return want[i].String() < want[j].String() })
	if !slices.Equal(got, want) {
		t.Fatalf("stored rows differ\n got: %v\nwant: %v", got, want)
	}
}

func TestWriteQueryOverwrite(t *testing.T) {
	t.Parallel()
	s := influxdtest.Start(t)
	cfg := s.Config()
	if cfg.Bucket != "countlab/autogen" || cfg.Org != "countlab" || cfg.Token != "" || !strings.HasPrefix(cfg.URL, "http://127.0.0.1:") {
		t.Fatalf("Config() = %+v", cfg)
	}
	if cfg.URL != s.URL() {
		t.Fatalf("Config().URL %q != URL() %q", cfg.URL, s.URL())
	}

	writePoints(t, cfg,
		total("video-a", "view", base, 3, 4.5),
		total("video-a", "view", base.Add(time.Minute), 7, 1),
		total("video-b", "click", base, 1, -2.25),
	)
	want := []row{
		{"video-a", "view", base, "count", int64(3)},
		{"video-a", "view", base, "sum", 4.5},
		{"video-a", "view", base.Add(time.Minute), "count", int64(7)},
		{"video-a", "view", base.Add(time.Minute), "sum", 1.0},
		{"video-b", "click", base, "count", int64(1)},
		{"video-b", "click", base, "sum", -2.25},
	}
	sameRows(t, readAll(t, cfg), want)

	// The idempotency contract the sink relies on: the same series and
	// timestamp written again, with other values, leaves one point with
	// the new values; writing it a third time changes nothing.
	for range 2 {
		writePoints(t, cfg, total("video-a", "view", base, 10, 99.5))
		want[0].Value, want[1].Value = int64(10), 99.5
		sameRows(t, readAll(t, cfg), want)
	}

	// Overwrite is per field: a point carrying only count keeps the old
	// sum. The sink therefore always writes every field of a total.
	writePoints(t, cfg, influxdb2.NewPoint(influx.Measurement,
		map[string]string{influx.TagKey: "video-b", influx.TagType: "click", influx.TagWindow: "60s"},
		map[string]any{influx.FieldCount: int64(2)}, base))
	want[4].Value = int64(2)
	sameRows(t, readAll(t, cfg), want)
}

func TestKillRestartKeepsData(t *testing.T) {
	t.Parallel()
	s := influxdtest.Start(t)
	cfg := s.Config()
	writePoints(t, cfg, total("k", "view", base, 42, 1.5))
	want := []row{{"k", "view", base, "count", int64(42)}, {"k", "view", base, "sum", 1.5}}

	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := influxd.Ping(ctxT(t, 2*time.Second), cfg); err == nil {
		t.Fatal("Ping succeeded after Kill")
	}
	if _, err := os.Stat(s.DataDir()); err != nil {
		t.Fatalf("Kill removed the data dir: %v", err)
	}

	began := time.Now()
	if err := s.Restart(ctxT(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart after kill (WAL replay) to healthy: %v", time.Since(began))
	if s.URL() != cfg.URL || s.Config() != cfg {
		t.Fatalf("restart moved the server: %v -> %v", cfg, s.Config())
	}
	sameRows(t, readAll(t, cfg), want)

	// Writable again, and Restart of a running server works too.
	writePoints(t, cfg, total("k", "view", base, 43, 2.5))
	if err := s.Restart(ctxT(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	want[0].Value, want[1].Value = int64(43), 2.5
	sameRows(t, readAll(t, cfg), want)
}

func TestStopRemovesTempDir(t *testing.T) {
	t.Parallel()
	s := influxdtest.Start(t)
	dir := s.DataDir()
	for _, sub := range []string{"influxd.conf", "influxd.log", "meta", "data"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
			t.Errorf("data dir lacks %s: %v", sub, err)
		}
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("data dir %s still there after Stop: %v", dir, err)
	}
	if _, err := http.Get(s.URL() + "/health"); err == nil {
		t.Fatal("server still answers after Stop")
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := s.Restart(ctxT(t, time.Second)); !errors.Is(err, influxd.ErrStopped) {
		t.Fatalf("Restart after Stop = %v, want ErrStopped", err)
	}
	if err := s.Kill(); !errors.Is(err, influxd.ErrStopped) {
		t.Fatalf("Kill after Stop = %v, want ErrStopped", err)
	}
}

func TestDataDirKept(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "influx")
	s := influxdtest.Start(t, influxd.DataDir(dir), influxd.Database("other"))
	cfg := s.Config()
	if cfg.Bucket != "other/autogen" {
		t.Fatalf("bucket %q, want other/autogen", cfg.Bucket)
	}
	writePoints(t, cfg, total("k", "view", base, 5, 0))
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "influxd.conf")); err != nil {
		t.Fatalf("Stop removed a DataDir: %v", err)
	}
	// A new server on the kept directory has the data (on a new port).
	s2 := influxdtest.Start(t, influxd.DataDir(dir), influxd.Database("other"))
	sameRows(t, readAll(t, s2.Config()), []row{{"k", "view", base, "count", int64(5)}, {"k", "view", base, "sum", 0.0}})
}

func TestTwoServers(t *testing.T) {
	t.Parallel()
	a := influxdtest.Start(t)
	b := influxdtest.Start(t)
	if a.URL() == b.URL() || a.DataDir() == b.DataDir() {
		t.Fatalf("two servers share %s / %s", a.URL(), a.DataDir())
	}
	writePoints(t, a.Config(), total("only-a", "view", base, 1, 1))
	if got := readAll(t, b.Config()); len(got) != 0 {
		t.Fatalf("server b sees a's data: %v", got)
	}
	if got := readAll(t, a.Config()); len(got) != 2 {
		t.Fatalf("server a: %v", got)
	}

	// A port the caller chose that is taken is an error naming it, not a
	// silent connection to the server already there.
	var port int
	fmt.Sscanf(a.URL(), "http://127.0.0.1:%d", &port)
	if _, err := influxd.Start(ctxT(t, time.Minute), influxd.Port(port)); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start on a taken port = %v, want an error naming the taken address", err)
	}
}

// TestPingPauseResume checks Ping against the managed server (and its
// failures), then Pause and Resume.
func TestPingPauseResume(t *testing.T) {
	t.Parallel()
	s := influxdtest.Start(t)
	cfg := s.Config()
	f := func(name string, cfg influx.Config, ok bool) {
		t.Helper()
		err := influxd.Ping(ctxT(t, 5*time.Second), cfg)
		if (err == nil) != ok {
			t.Errorf("%s: Ping(%v) = %v, want ok=%v", name, cfg, err, ok)
		}
	}
	f("managed", cfg, true)
	bad := cfg
	bad.Bucket = "nosuchdb/autogen"
	f("unknown bucket", bad, false)
	bad = cfg
	bad.URL = "http://127.0.0.1:1"
	f("nothing listening", bad, false)
	f("no URL", influx.Config{Bucket: "x"}, false)

	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := influxd.Ping(ctxT(t, 300*time.Millisecond), cfg); err == nil {
		t.Fatal("paused server answered")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := influxd.Ping(ctxT(t, 10*time.Second), cfg); err != nil {
		t.Fatalf("after Resume: %v", err)
	}
	// Stop of a paused server is prompt (SIGCONT follows SIGTERM).
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("Stop of a paused server took %v", d)
	}
}

// TestMeasure reports startup time to healthy and the latency of a small
// Flux range query (median of 20), the figures in the package report. It
// starts the server once; COUNTLAB_INFLUXD_MEASURE=1 starts it 5 times.
func TestMeasure(t *testing.T) {
	if _, err := influxd.FindBinary(); err != nil {
		influxdtest.Start(t) // skips or fails as configured
	}
	starts := 1
	if os.Getenv("COUNTLAB_INFLUXD_MEASURE") == "1" {
		starts = 5
	}
	var startup []time.Duration
	var s *influxd.Server
	for i := range starts {
		began := time.Now()
		s = influxdtest.Start(t)
		startup = append(startup, time.Since(began))
		if i < starts-1 {
			s.Stop()
		}
	}
	cfg := s.Config()
	var pts []*write.Point
	for i := range 60 {
		pts = append(pts, total(fmt.Sprintf("k%d", i%10), "view", base.Add(time.Duration(i)*time.Minute), int64(i), float64(i)))
	}
	writePoints(t, cfg, pts...)
	flux := fmt.Sprintf(`from(bucket: %q)
  |> range(start: 2026-01-01T00:10:00Z, stop: 2026-01-01T00:20:00Z)
  |> filter(fn: (r) => r._measurement == %q and r.key == "k3" and r._field == "count")
  |> sum()`, cfg.Bucket, influx.Measurement)
	var lat []time.Duration
	for range 20 {
		began := time.Now()
		rows, err := query(ctxT(t, 10*time.Second), cfg, flux)
		lat = append(lat, time.Since(began))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Value != int64(13) {
			t.Fatalf("sum of k3 counts in 00:10-00:20 = %v, want [13]", rows)
		}
	}
	slices.Sort(startup)
	slices.Sort(lat)
	t.Logf("startup to healthy + CREATE DATABASE: min %v median %v max %v (%d starts)", startup[0], startup[len(startup)/2], startup[len(startup)-1], starts)
	t.Logf("Flux range query (10 min, one series, sum): median %v min %v max %v (20 queries, new client each)", lat[len(lat)/2], lat[0], lat[len(lat)-1])
}
