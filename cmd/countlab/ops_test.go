package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/reports"
)

// captureRun runs the CLI with args and returns its exit code and what it
// wrote to stdout and stderr (flag sets print -h to os.Stderr).
func captureRun(t *testing.T, args ...string) (int, string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = f, f
	code := runMain(args, f)
	os.Stdout, os.Stderr = oldOut, oldErr
	b, _ := os.ReadFile(f.Name())
	return code, string(b)
}

// TestEveryCommandHelp walks every subcommand's -h: exit 0, a synopsis,
// an example and the environment variables it reads.
func TestEveryCommandHelp(t *testing.T) {
	var names []string
	for n := range commands() {
		names = append(names, n)
	}
	sort.Strings(names)
	cases := [][]string{{"report", "diff", "-h"}, {"report", "html", "-h"}, {"check", "--from-log", "-h"}}
	for _, n := range names {
		cases = append(cases, []string{n, "-h"})
	}
	envs := map[string][]string{
		"up":  {"COUNTLAB_TOKEN", "COUNTLAB_INFLUX_TOKEN", "COUNTLAB_KAFKA_PASSWORD", "COUNTLAB_INFLUXD"},
		"run": {"COUNTLAB_TOKEN", "COUNTLAB_INFLUXD"}, "selfcheck": {"COUNTLAB_INFLUXD"},
		"gateway": {"COUNTLAB_TOKEN", "COUNTLAB_KAFKA_PASSWORD"}, "query-server": {"COUNTLAB_TOKEN", "COUNTLAB_INFLUX_TOKEN"},
		"engine": {"COUNTLAB_KAFKA_PASSWORD"}, "sink": {"COUNTLAB_INFLUX_TOKEN"}, "check": {"COUNTLAB_TOKEN"},
		"check --from-log": {"COUNTLAB_KAFKA_PASSWORD"},
	}
	for _, args := range cases {
		code, out := captureRun(t, args...)
		name := strings.Join(args[:len(args)-1], " ")
		if code != 0 {
			t.Errorf("%s -h: exit %d\n%s", name, code, out)
			continue
		}
		if strings.Contains(out, "Usage of ") {
			t.Errorf("%s -h: the bare flag package usage:\n%s", name, out)
		}
		for _, want := range append([]string{"usage:", "countlab " + name + " ", "example:\n  countlab " + args[0], "environment:\n"}, envs[name]...) {
			if !strings.Contains(out, want) {
				t.Errorf("%s -h: no %q in\n%s", name, want, out)
			}
		}
	}
}

// TestBadFlagOneLine: an undefined flag, on every subcommand, is exit 2
// and one line naming it and pointing at -h, not the error buried under
// the command's whole help.
func TestBadFlagOneLine(t *testing.T) {
	var names []string
	for n := range commands() {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		args := []string{n, "--no-such-flag"}
		switch n {
		case "report":
			args = []string{"report", "diff", "--no-such-flag"}
		case "scenarios": // a menu of subcommands
			args = []string{"scenarios", "list", "--no-such-flag"}
		}
		code, out := captureRun(t, args...)
		if code != 2 {
			t.Errorf("%s: exit %d, want 2\n%s", args, code, out)
			continue
		}
		if !strings.Contains(out, "-no-such-flag") || !strings.Contains(out, "-h')") || strings.Contains(out, "\nflags:") || strings.Count(out, "\n") > 1 {
			t.Errorf("%s: want one line naming the flag and -h, got\n%s", args, out)
		}
	}
}

// TestMeaninglessFlagsRefused: values that mean nothing are exit 2 with
// the flag and the fix, before anything starts.
func TestMeaninglessFlagsRefused(t *testing.T) {
	t.Setenv("COUNTLAB_TOKEN", "")
	t.Setenv("COUNTLAB_TOKEN_FILE", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "quickstart", "--duration", "0s"}, "--duration 0s means nothing"},
		{[]string{"run", "quickstart", "--duration=-5s"}, "--duration -5s means nothing"},
		{[]string{"up", "--lateness", "-1s"}, "--lateness -1s means nothing"},
		{[]string{"up", "--commit-interval", "0s"}, "--commit-interval 0s"},
		{[]string{"up", "--partitions", "-1"}, "--partitions must be at least 1"},
		{[]string{"selfcheck", "--duration", "0s"}, "--duration 0s means nothing"},
		{[]string{"sink", "--write-timeout", "-1s"}, "--write-timeout -1s means nothing"},
		{[]string{"engine", "--commit-interval", "0s"}, "--commit-interval 0s means nothing"},
		{[]string{"gateway", "--max-batch", "0"}, "--max-batch 0 means nothing"},
		{[]string{"check", "--ledger", "x", "--parallel", "0"}, "--parallel 0 means nothing"},
		{[]string{"check", "--ledger", "x", "--wait", "-1s"}, "--wait -1s means nothing"},
		{[]string{"up", "--influx-listen", "0.0.0.0:8086"}, "--influx-listen: the managed influxd listens on 127.0.0.1 only"},
		{[]string{"up", "--metrics-listen", "nope"}, "--metrics-listen"},
		{[]string{"up", "--partitions", "2", "--hot-key", "video-1=3"}, "--hot-key video-1=3: split a key 2..--partitions (2) ways"},
		{[]string{"up", "--hot-key", "video-1=1"}, "--hot-key video-1=1"},
		{[]string{"up", "--hot-key", "=2"}, "want KEY=N"},
		// Start-up safety: reachable from other hosts without a token.
		{[]string{"up", "--gateway-listen", "0.0.0.0:0"}, "--gateway-listen 0.0.0.0:0 is reachable from other hosts and no bearer token is set"},
		{[]string{"run", "quickstart", "--query-listen", ":0"}, "--query-listen :0 is reachable"},
		{[]string{"gateway", "--brokers", "127.0.0.1:1", "--listen", "0.0.0.0:0"}, "--insecure-no-token"},
		{[]string{"query-server", "--brokers", "127.0.0.1:1", "--listen", "0.0.0.0:0"}, "set COUNTLAB_TOKEN"},
		{[]string{"report", "diff", "nope-1.json", "nope-2.json"}, "nope-1.json"},
	} {
		code, out := captureRun(t, c.args...)
		if code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, want 2 with %q; got:\n%s", c.args, code, c.want, out)
		}
	}
}

// TestExposureAllowed: a token, loopback or --insecure-no-token pass the
// start-up safety check.
func TestExposureAllowed(t *testing.T) {
	for _, c := range []struct {
		addr, token string
		insecure    bool
	}{{"127.0.0.1:8080", "", false}, {"[::1]:8080", "", false}, {"localhost:1", "", false}, {"0.0.0.0:8080", "t", false}, {"0.0.0.0:8080", "", true}} {
		if err := stack.CheckExposure("--listen", c.addr, c.token, c.insecure); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "10.1.2.3:80", "[::]:80"} {
		if err := stack.CheckExposure("--listen", addr, "", false); err == nil {
			t.Errorf("%s without a token: allowed", addr)
		}
	}
}

// TestReportDiffNotAReport: `report diff` of files that are not reports
// (an empty JSON object) is a configuration problem, exit 2; --json of two
// real reports is typed JSON with the verdict.
func TestReportDiffNotAReport(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "r1.json")
	if err := os.WriteFile(empty, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := captureRun(t, "report", "diff", empty, empty); code != 2 || !strings.Contains(out, "is not a countlab report.json") {
		t.Fatalf("report diff {} {}: exit %d\n%s", code, out)
	}
	r := &reports.Report{Scenario: "s", StartedAt: time.Unix(1e9, 0).UTC(), DurationS: 1, Pass: true,
		Accuracy: reports.Accuracy{Exact: true, WindowsChecked: 3}, Throughput: reports.Throughput{AchievedEventsPerS: 100}}
	p := filepath.Join(dir, "r.json")
	b, _ := json.Marshal(r)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := captureRun(t, "report", "diff", p, p, "--json")
	var d reports.DiffJSON
	if err := json.Unmarshal([]byte(out), &d); err != nil || code != 0 || !d.Pass || !d.Exact.New || d.New.Scenario != "s" {
		t.Fatalf("report diff --json: exit %d, %v\n%s", code, err, out)
	}
}

// TestScenariosListJSON: every shipped scenario, typed.
func TestScenariosListJSON(t *testing.T) {
	code, out := captureRun(t, "scenarios", "list", "--json")
	var list []scenarioInfo
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != 0 || len(list) < 5 {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	for _, s := range list {
		if s.Name == "" || s.DurationS <= 0 || s.Keys <= 0 {
			t.Errorf("%+v", s)
		}
	}
}

// TestCheckUnreachable: a query service nobody serves is exit 2 (a
// configuration problem), not 1 (a failed check).
func TestCheckUnreachable(t *testing.T) {
	lf := filepath.Join(t.TempDir(), "ledger.gob")
	code, out := captureRun(t, "check", "--ledger", lf, "--query", "http://"+freeAddr(t), "--json")
	if code != 2 || !strings.Contains(out, "--truth "+lf) || !strings.Contains(out, "no such file") {
		t.Fatalf("a missing truth file: exit %d\n%s", code, out)
	}
	if err := os.WriteFile(lf, nil, 0o644); err != nil { // never read: the target is checked first
		t.Fatal(err)
	}
	code, out = captureRun(t, "check", "--ledger", lf, "--query", "http://"+freeAddr(t), "--json")
	if code != 2 || !strings.Contains(out, "is not reachable") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// TestVersion: countlab version prints the provenance; --json is the
// report.json block with the command line's secrets redacted.
func TestVersion(t *testing.T) {
	code, out := captureRun(t, "version")
	if code != 0 || !strings.Contains(out, "countlab ") || !strings.Contains(out, "go1.") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	code, out = captureRun(t, "version", "--json")
	var p reports.Provenance
	if err := json.Unmarshal([]byte(out), &p); err != nil || code != 0 {
		t.Fatalf("exit %d %v\n%s", code, err, out)
	}
	if p.GoVersion == "" || p.OS == "" || p.CPUs < 1 || p.Module != "github.com/countlab/countlab" || len(p.CommandLine) == 0 {
		t.Errorf("%+v", p)
	}
	if _, err := os.Stat("/proc/meminfo"); err == nil && (p.MemoryBytes <= 0 || p.CPUModel == "") {
		t.Errorf("no memory or CPU model from /proc: %+v", p)
	}
}

// TestUpBannerDataDir: the banner says temp data is removed only when it
// is; with --data-dir it says where the data stays.
func TestUpBannerDataDir(t *testing.T) {
	st := stack.Addrs("127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:9100")
	var b strings.Builder
	writeUpBanner(&b, st, &stackFlags{dataDir: "/srv/countlab"})
	if strings.Contains(b.String(), "removes") || !strings.Contains(b.String(), "the data stays in /srv/countlab") {
		t.Errorf("with --data-dir:\n%s", b.String())
	}
	b.Reset()
	writeUpBanner(&b, st, &stackFlags{})
	if !strings.Contains(b.String(), "removes its temp data") || !strings.Contains(b.String(), "metrics        http://127.0.0.1:9100/metrics") {
		t.Errorf("without --data-dir:\n%s", b.String())
	}
}
