package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/harness/stack"
)

// dashboardMetrics are the metric names the Grafana dashboard's queries
// use (deploy/grafana/countlab.json).
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/grafana/countlab.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	re := regexp.MustCompile(`\b(?:countlab|process|go)_[a-z0-9_]+`)
	set := map[string]bool{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range re.FindAllString(tg.Expr, -1) {
				set[m] = true
			}
		}
	}
	var names []string
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 20 {
		t.Fatalf("dashboard names only %d metrics: %v", len(names), names)
	}
	return names
}

// scrapeNames are the series names GET url serves (a histogram's _bucket,
// _sum and _count included), and the families.
func scrapeNames(t *testing.T, url string) (map[string]bool, map[string]*dto.MetricFamily) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("GET %s: not the text exposition format: %v", url, err)
	}
	names := map[string]bool{}
	for n, f := range fams {
		names[n] = true
		if f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_SUMMARY {
			names[n+"_sum"], names[n+"_count"] = true, true
			names[n+"_bucket"] = f.GetType() == dto.MetricType_HISTOGRAM
		}
	}
	return names, fams
}

// TestMetricsDashboard starts the embedded stack as `countlab up` does
// (loopback, free ports), sends a few events and a query, and scrapes the
// one --metrics-listen endpoint until it serves every metric the Grafana
// dashboard names (bounded: 60 s); engine series carry worker="0"; the
// event of an unknown type is counted as a dead letter by its reason code.
func TestMetricsDashboard(t *testing.T) {
	influxdtest.Require(t)
	want := dashboardMetrics(t)

	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	var sf stackFlags
	sf.register(fs, false)
	if err := sf.parse(fs, []string{"--partitions", "2", "--windows", "10s", "--log-level", "info"}); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := startStack(ctx, &sf, sf.logger(&logs))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !stack.IsLoopback(st.MetricsAddr()) {
		t.Fatalf("metrics on %s, not loopback", st.MetricsAddr())
	}

	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	body := `[{"id":"m-1","key":"video-1","type":"VIEW","ts":` + ts + `},{"id":"m-2","key":"video-1","type":"NOPE","ts":` + ts + `}]`
	resp, err := http.Post("http://"+st.GatewayAddr()+"/v1/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	url := "http://" + st.MetricsAddr() + "/metrics"
	var missing []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		if r, err := http.Get("http://" + st.QueryAddr() + "/v1/counts/video-1?type=VIEW"); err == nil {
			r.Body.Close()
		}
		names, fams := scrapeNames(t, url)
		missing = missing[:0]
		for _, n := range want {
			if !names[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			f := fams["countlab_engine_events_consumed_total"]
			if f == nil || len(f.Metric) != 1 || !hasLabel(f.Metric[0], "worker", "0") {
				t.Fatalf("engine consumed counter without worker=\"0\": %v", f)
			}
			dl := fams["countlab_dead_letter_events_total"]
			if f.Metric[0].GetCounter().GetValue() < 1 || dl == nil {
				if time.Now().After(deadline) {
					t.Fatalf("after 60 s: engine consumed counter %v, dead letters %v", f.Metric, dl)
				}
				time.Sleep(200 * time.Millisecond)
				continue // the events are on their way
			}
			if m := dl.Metric[0]; len(dl.Metric) != 1 || !hasLabel(m, "source", "gateway") || !hasLabel(m, "reason", "type") || m.GetCounter().GetValue() != 1 {
				t.Fatalf("dead letters by reason: %v, want one gateway/type", dl.Metric)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: the dashboard's metrics %v are missing", url, missing)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Count(l, "part=") > 1 {
			t.Errorf("a log line names its part twice: %s", l)
		}
	}
	if !strings.Contains(logs.String(), "part=sink") {
		t.Errorf("no sink log line at info:\n%s", logs.String())
	}
	// The gateway's and the query service's own ports serve their metrics too.
	for _, u := range []string{"http://" + st.GatewayAddr() + "/metrics", "http://" + st.QueryAddr() + "/metrics"} {
		scrapeNames(t, u)
	}
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.Label {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// TestPrometheusConfig: deploy/prometheus.yml is YAML with a countlab job
// scraping a loopback /metrics target.
func TestPrometheusConfig(t *testing.T) {
	b, err := os.ReadFile("../../deploy/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.ScrapeConfigs) == 0 || c.ScrapeConfigs[0].JobName != "countlab" || len(c.ScrapeConfigs[0].StaticConfigs) == 0 {
		t.Fatalf("no countlab job: %+v", c)
	}
	for _, tg := range c.ScrapeConfigs[0].StaticConfigs[0].Targets {
		if !stack.IsLoopback(tg) {
			t.Errorf("target %s is not loopback", tg)
		}
	}
}
