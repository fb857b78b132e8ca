package probe

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/scenarios"
)

func TestParsePromGauge(t *testing.T) {
	text := "# HELP go_goroutines Number of goroutines.\n# TYPE go_goroutines gauge\ngo_goroutines 37\ngo_goroutines_extra 5\ngo_threads 9\n"
	f := func(in, name string, want int, wantErr bool) {
		t.Helper()
		got, err := parsePromGauge([]byte(in), name)
		if (err != nil) != wantErr || got != want {
			t.Errorf("parsePromGauge(%s): %d, %v; want %d (error %v)", name, got, err, want, wantErr)
		}
	}
	f(text, "go_goroutines", 37, false)
	f(text, "go_threads", 9, false)
	f(text, "process_open_fds", 0, true)
	f("go_goroutines NaNx\n", "go_goroutines", 0, true)
}

func TestDebugVars(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/debug/vars" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"system": {"PID": 1}, "runtime": {"name": "runtime", "tags": null, "values": {"NumGoroutine": 123, "HeapAlloc": 5}},
"httpd:127.0.0.1:8086": {"name": "httpd", "tags": {"bind": "127.0.0.1:8086"}, "values": {"writeReq": 10, "writeReqDurationNs": 5000000000}}}`)
	}))
	defer srv.Close()
	ctx := context.Background()
	n, err := influxGoroutines(ctx, srv.Client(), srv.URL)
	if err != nil || n != 123 {
		t.Fatalf("influxGoroutines: %d, %v", n, err)
	}
	v, err := influxVars(ctx, srv.Client(), srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if w, ok := v.value("httpd", "writeReqDurationNs"); !ok || w != 5e9 {
		t.Errorf("httpd writeReqDurationNs: %v %v", w, ok)
	}
	if _, ok := v.value("http", "writeReq"); ok {
		t.Error("a prefix of a statistic's name matched")
	}
	if _, err := influxGoroutines(ctx, srv.Client(), srv.URL+"/nope"); err == nil {
		t.Error("a 404 gave goroutines")
	}
}

// TestResourceSampler samples this process (real /proc on Linux) and two
// fakes on the probes' tick: one whose goroutines come from a Prometheus
// endpoint, one that is not running at first.
func TestResourceSampler(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc: memory and CPU are read from /proc/PID/stat (Linux)")
	}
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "go_goroutines 12\n")
	}))
	defer metrics.Close()
	self := os.Getpid()
	calls := 0
	procs := []stack.Process{
		{Name: "countlab", PID: func() int { return self }, Self: true},
		{Name: "engine-0", PID: func() int { return self }, MetricsURL: func() string { return metrics.URL }},
		{Name: "late", PID: func() int {
			calls++
			if calls < 3 {
				return 0
			}
			return self
		}, MetricsURL: func() string { return "" }},
	}
	sc, err := scenarios.Lookup("ci-smoke")
	if err != nil {
		t.Fatal(err)
	}
	p := New(context.Background(), Config{Scenario: sc, Every: 20 * time.Millisecond, Sampled: Resources}, Sources{Processes: procs})
	defer p.Close()
	snd := newTestSender(t)
	p.Start(snd, nil)
	time.Sleep(300 * time.Millisecond)
	_ = p.Stop(snd)
	use, rss, gor := p.res.result(0.2)
	if len(use) != 3 || len(rss) != 3 || len(gor) != 2 {
		t.Fatalf("usage %+v, %d rss series, %d goroutine series", use, len(rss), len(gor))
	}
	for _, u := range use {
		if u.PID != self || u.Samples < 3 || u.RSSMiBStart <= 0 || u.RSSMiBEnd <= 0 || math.IsNaN(u.RSSSlopeMiBPerH) {
			t.Errorf("usage %+v", u)
		}
	}
	if u := use[0]; u.Process != "countlab" || u.GoroutinesEnd < 1 || u.HeapMiBEnd <= 0 {
		t.Errorf("countlab %+v", u)
	}
	if u := use[1]; u.GoroutinesStart != 12 || u.GoroutineSlopePerH != 0 {
		t.Errorf("engine-0 %+v", u)
	}
	if u := use[2]; u.GoroutinesMeasured || u.Samples >= use[0].Samples {
		t.Errorf("late %+v (countlab had %d samples)", u, use[0].Samples)
	}
}
