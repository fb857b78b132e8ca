package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScenariosCommand(t *testing.T) {
	var out, errw bytes.Buffer
	if err := scenariosMain([]string{"list"}, &out, &errw); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NAME", "quickstart", "ci-smoke"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("list lacks %q:\n%s", want, out.String())
		}
	}

	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("name: g\nduration: 5s\ntraffic:\n  rate: {events_per_s: 10}\n  keys: {count: 3, zipf_s: 1.1}\n"), 0o644)
	os.WriteFile(bad, []byte("name: b\nduration: 5s\ntraffic:\n  rate: {events_per_s: 10}\n  keys: {count: 3, zipf_s: -1}\n"), 0o644)
	out.Reset()
	if err := scenariosMain([]string{"validate", good, "quickstart"}, &out, &errw); err != nil {
		t.Fatalf("validate good: %v", err)
	}
	errw.Reset()
	err := scenariosMain([]string{"validate", good, bad}, &out, &errw)
	var ue usageError
	if !errors.As(err, &ue) {
		t.Fatalf("validate bad: %v, want a usage error (exit 2)", err)
	}
	if want := "traffic.keys.zipf_s: must be > 0 (got -1); try 1.1"; !strings.Contains(errw.String(), want) {
		t.Fatalf("validate bad printed %q, want %q", errw.String(), want)
	}
	out.Reset()
	if err := scenariosMain([]string{"show", "quickstart"}, &out, &errw); err != nil || !strings.Contains(out.String(), "name: quickstart") {
		t.Fatalf("show: %v\n%s", err, out.String())
	}
	if err := scenariosMain([]string{"frobnicate"}, &out, &errw); !errors.As(err, &ue) {
		t.Fatalf("unknown subcommand: %v", err)
	}
}

func TestRunUsageErrors(t *testing.T) {
	f := func(args []string, want string) {
		t.Helper()
		err := cmdRun(t.Context(), args)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
			t.Errorf("run %v: %v, want a usage error with %q", args, err, want)
		}
	}
	f(nil, "missing SCENARIO")
	f([]string{"no-such-scenario"}, "shipped: ")
	f([]string{"quickstart", "extra"}, "unexpected argument")
	f([]string{"quickstart", "--plant-bug=x"}, "plant-bug")
	f([]string{"quickstart", "--baseline", "/nonexistent/report.json"}, "--baseline")
}

// TestRunScenarioFromEnv runs the scenario named by COUNTLAB_RUN_SCENARIO
// (a name or file) in full, for trying scenarios before the command is
// registered: COUNTLAB_RUN_SCENARIO=quickstart go test -run FromEnv -v.
func TestRunScenarioFromEnv(t *testing.T) {
	name := os.Getenv("COUNTLAB_RUN_SCENARIO")
	if name == "" {
		t.Skip("set COUNTLAB_RUN_SCENARIO to run a scenario")
	}
	dir := os.Getenv("COUNTLAB_REPORT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := cmdRun(t.Context(), []string{name, "--report-dir", dir}); err != nil {
		t.Fatal(err)
	}
}
