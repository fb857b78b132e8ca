// Package e2e runs the custom k6 binary (bin/k6, with k6/x/countlab)
// against the embedded stack (`countlab up`) and checks the ledger the
// script wrote with `countlab check`: exact counts, end to end.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countlab/countlab/sim/ledger"
)

// repoRoot is the countlab repository: this package is k6/e2e.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "countlab")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

// influxd is the pinned influxd binary, or a skip (a failure when
// COUNTLAB_REQUIRE_INFLUXD=1).
func influxd(t *testing.T, root string) string {
	t.Helper()
	p := os.Getenv("COUNTLAB_INFLUXD")
	if p == "" {
		p = filepath.Join(root, "bin", "influxd")
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("COUNTLAB_REQUIRE_INFLUXD") == "1" {
			t.Fatalf("influxd not found at %s (COUNTLAB_REQUIRE_INFLUXD=1): run `make influxd`", p)
		}
		t.Skipf("influxd not found at %s: run `make influxd` (or set COUNTLAB_REQUIRE_INFLUXD=1 to fail instead)", p)
	}
	return p
}

// k6Binary is bin/k6, built first when missing.
func k6Binary(t *testing.T, root string) string {
	t.Helper()
	p := filepath.Join(root, "bin", "k6")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	t.Logf("building %s (the first build of k6 takes a few minutes)", p)
	goBuild(t, filepath.Join(root, "k6"), p, "./cmd/k6", 10*time.Minute)
	return p
}

func goBuild(t *testing.T, dir, out, pkg string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// stack is a running `countlab up`.
type stack struct {
	countlab               string
	gateway, query, broker string
	cmd                    *exec.Cmd
	mu                     sync.Mutex
	stdout, stderr         bytes.Buffer
}

// startStack builds countlab and starts `countlab up` on free loopback
// ports, waiting for its banner.
func startStack(t *testing.T, root, influxdBin string) *stack {
	t.Helper()
	dir := t.TempDir()
	s := &stack{countlab: filepath.Join(dir, "countlab"), gateway: freePort(t), query: freePort(t), broker: freePort(t)}
	goBuild(t, root, s.countlab, "./cmd/countlab", 5*time.Minute)
	s.cmd = exec.Command(s.countlab, "up", "--broker-listen", s.broker, "--gateway-listen", s.gateway,
		"--query-listen", s.query, "--data-dir", filepath.Join(dir, "data"))
	s.cmd.Env = append(os.Environ(), "COUNTLAB_INFLUXD="+influxdBin)
	s.cmd.Dir = dir
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = &lockedWriter{mu: &s.mu, w: &s.stderr}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	up := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			s.mu.Lock()
			s.stdout.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if strings.Contains(sc.Text(), "the embedded stack is running") {
				once.Do(func() { close(up) })
			}
		}
		io.Copy(io.Discard, out)
	}()
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-exited
			t.Errorf("countlab up did not stop within 30s of an interrupt")
		}
		if t.Failed() {
			s.mu.Lock()
			t.Logf("countlab up stdout:\n%s\nstderr:\n%s", s.stdout.String(), tail(s.stderr.String(), 4000))
			s.mu.Unlock()
		}
	})
	select {
	case <-up:
	case err := <-exited:
		exited <- err
		s.mu.Lock()
		defer s.mu.Unlock()
		t.Fatalf("countlab up exited before it was up: %v\n%s", err, tail(s.stderr.String(), 4000))
	case <-time.After(90 * time.Second):
		t.Fatal("countlab up: no banner within 90s")
	}
	return s
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// run runs a command bounded by timeout and returns its exit code and
// combined output.
func run(t *testing.T, timeout time.Duration, dir string, env []string, name string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 10 * time.Second
	b, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: not done within %v\n%s", filepath.Base(name), strings.Join(args, " "), timeout, tail(string(b), 4000))
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(b)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(b)
	}
	t.Fatalf("%s: %v", name, err)
	return -1, ""
}

// TestK6Mixed runs mixed.js for 10 s against the embedded stack, checks
// its ledger exactly, and runs impossible.js, whose threshold fails (k6
// exits 99).
func TestK6Mixed(t *testing.T) {
	root := repoRoot(t)
	influxdBin := influxd(t, root)
	k6 := k6Binary(t, root)
	if code, out := run(t, time.Minute, root, nil, k6, "version"); code != 0 || !strings.Contains(out, "k6/x/countlab") {
		t.Fatalf("k6 version: exit %d, want 0 and the extension k6/x/countlab listed:\n%s", code, out)
	}
	st := startStack(t, root, influxdBin)
	dir := t.TempDir()
	ledgerFile := filepath.Join(dir, "ledger.gob")
	reportFile := filepath.Join(dir, "report.json")
	env := []string{
		"K6_NO_USAGE_REPORT=true",
		"GATEWAY_URL=http://" + st.gateway, "QUERY_URL=http://" + st.query, "BROKERS=" + st.broker,
		"DURATION=10s", "LATE=0.005", "LATE_BY=3m", "RATE=10", "BATCH=100", "QUERY_RATE=20", "LEDGER=" + ledgerFile, "REPORT=" + reportFile,
	}
	// k6 reads __ENV from its own environment (--include-system-env-vars
	// is on by default for `k6 run`).
	code, out := run(t, 2*time.Minute, root, env, k6, "run", "--quiet", "--no-usage-report", "k6/scripts/mixed.js")
	t.Logf("k6 run mixed.js:\n%s", tail(out, 3000))
	if code != 0 {
		t.Fatalf("k6 run mixed.js: exit %d, want 0", code)
	}
	l, err := ledger.Load(ledgerFile)
	if err != nil {
		t.Fatalf("the script's ledger: %v", err)
	}
	if s := l.Stats(); s.Events < 5000 {
		t.Fatalf("ledger holds %d events, want at least 5000 (10 s at 2000 events/s)", s.Events)
	}
	if _, err := os.Stat(reportFile); err != nil {
		t.Errorf("handleSummary wrote no report: %v", err)
	}

	code, out = run(t, 2*time.Minute, root, nil, st.countlab, "check", "--ledger", ledgerFile,
		"--query", "http://"+st.query, "--wait", "60s")
	t.Logf("countlab check: %s", strings.TrimSpace(out))
	if code != 0 || !strings.HasPrefix(out, "EXACT") {
		t.Fatalf("countlab check: exit %d, want 0 and EXACT:\n%s", code, out)
	}

	code, out = run(t, time.Minute, root, env, k6, "run", "--quiet", "--no-usage-report", "-e", "DURATION=2s", "k6/scripts/impossible.js")
	if code != 99 {
		t.Fatalf("k6 run impossible.js: exit %d, want 99 (a crossed threshold)\n%s", code, tail(out, 3000))
	}
}
