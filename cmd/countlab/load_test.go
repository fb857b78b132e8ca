package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim/oracle"
)

// TestShardedLoad runs four `countlab load --shard i/4` processes against
// one `countlab up` stack, then `countlab check` of the four truths
// merged: exact. Three of the four are not (the check is not vacuous), a
// shard given twice is an overlap, and `countlab report merge` reports the
// percentiles of the summed histograms and the summed counts.
func TestShardedLoad(t *testing.T) {
	influxdtest.Require(t)
	bin := buildCountlab(t)
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	gw, q, stop := startUp(ctx, t, bin, tmp)
	defer stop() // before cancel: a graceful stop, which stops its influxd

	run := func(args ...string) (int, string) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "COUNTLAB_TOKEN=", "COUNTLAB_TOKEN_FILE=")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return 0, string(out)
	}
	start := strconv.FormatInt(time.Now().Add(4*time.Second).UnixMilli(), 10)
	runID := fmt.Sprintf("sh%d-", time.Now().UnixNano()%1e6)
	dirs := make([]string, 4)
	var wg sync.WaitGroup
	errs := make([]string, 4)
	for i := range dirs {
		dirs[i] = filepath.Join(tmp, "s"+strconv.Itoa(i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, out := run("load", "ci-smoke", "--shard", strconv.Itoa(i)+"/4", "--run-id", runID, "--start", start,
				"--duration", "5s", "--rate", "400", "--gateway", "http://"+gw, "--out", dirs[i]); code != 0 {
				errs[i] = fmt.Sprintf("shard %d: exit %d\n%s", i, code, out)
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Fatal(e)
		}
	}
	var distinct int64
	for _, d := range dirs {
		o, err := oracle.Load(filepath.Join(d, "truth.bin"))
		if err != nil {
			t.Fatal(err)
		}
		st := o.Stats()
		if st.Distinct < 300 || st.Duplicates == 0 {
			t.Fatalf("%s: %+v: too few events or no duplicates", d, st)
		}
		distinct += st.Distinct
	}

	truths := func(ds ...string) []string {
		var a []string
		for _, d := range ds {
			a = append(a, "--truth", d)
		}
		return a
	}
	check := append([]string{"check", "--query", "http://" + q, "--wait", "40s"}, truths(dirs...)...)
	code, out := run(check...)
	if code != 0 || !strings.HasPrefix(out, "EXACT") || !strings.Contains(out, fmt.Sprintf("expected %d events", distinct)) {
		t.Fatalf("check of the four shards: exit %d, want EXACT of %d events:\n%s", code, distinct, out)
	}
	if code, out := run(append([]string{"check", "--query", "http://" + q}, truths(dirs[:3]...)...)...); code != 1 || !strings.Contains(out, "NOT EXACT") {
		t.Fatalf("check of three of the four shards: exit %d, want 1 (NOT EXACT):\n%s", code, out)
	}
	if code, out := run(append([]string{"check", "--query", "http://" + q}, truths(dirs[0], dirs[1], dirs[0])...)...); code != 1 || !strings.Contains(out, "shards overlap") {
		t.Fatalf("check of a shard given twice: exit %d, want 1 (overlap):\n%s", code, out)
	}

	code, out = run(append([]string{"check", "--query", "http://" + q, "--json"}, truths(dirs...)...)...)
	checkOut := filepath.Join(tmp, "check.json")
	if err := os.WriteFile(checkOut, []byte(out), 0o644); code != 0 || err != nil {
		t.Fatalf("check --json: exit %d (%v)\n%s", code, err, out)
	}
	all := filepath.Join(tmp, "all")
	if code, out := run(append([]string{"report", "merge", "-o", all, "--check", checkOut}, dirs...)...); code != 0 {
		t.Fatalf("report merge: exit %d\n%s", code, out)
	}
	rep, err := reports.ReadFile(filepath.Join(all, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var acked int64
	var sum *reports.Histograms
	for _, d := range dirs {
		r, err := reports.ReadFile(filepath.Join(d, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		acked += r.Traffic.Acked
		h, err := reports.ReadHistograms(filepath.Join(d, reports.HistogramFile))
		if err != nil {
			t.Fatal(err)
		}
		if sum == nil {
			sum = &h
		} else {
			sum.IngestAck.Merge(h.IngestAck)
		}
	}
	if want := reports.FromHistogram(sum.IngestAck); rep.Latency.IngestAck != want || want.Count != acked {
		t.Fatalf("merged ingest-ack %+v, want the summed histogram's %+v (%d acknowledged)", rep.Latency.IngestAck, want, acked)
	}
	if !rep.Accuracy.Exact || rep.Accuracy.ExpectedEvents != distinct || !rep.Pass {
		t.Fatalf("merged report: accuracy %+v, pass %v; want exact, %d events", rep.Accuracy, rep.Pass, distinct)
	}
	if rep.Traffic.Acked != acked || rep.Shards != 4 {
		t.Fatalf("merged report: %d acknowledged, %d shards; want %d and 4", rep.Traffic.Acked, rep.Shards, acked)
	}
}

// TestLoadFlagsRefused: a sharded generator's meaningless flags are exit 2
// with the flag named, before anything is sent.
func TestLoadFlagsRefused(t *testing.T) {
	out := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"load", "ci-smoke", "--shard", "4/4", "--out", out}, "--shard"},
		{[]string{"load", "ci-smoke", "--shard", "1/4", "--out", out}, "--run-id is required"},
		{[]string{"load", "ci-smoke", "--shard", "1/4", "--run-id", "r-"}, "--out is required"},
		{[]string{"load", "ci-smoke", "--shard", "1/4", "--run-id", "r-", "--out", out, "--start", "1000"}, "in the past"},
		{[]string{"load", "worker-crash", "--out", out}, "has faults"},
		{[]string{"report", "merge", out, "-o", out}, "report.json"},
	} {
		code, got := captureRun(t, c.args...)
		if code != 2 || !strings.Contains(got, c.want) {
			t.Errorf("%v: exit %d, want 2 with %q:\n%s", c.args, code, c.want, got)
		}
	}
}

// startUp starts `countlab up` (two partitions, 10 s windows, no token)
// on free loopback ports and waits until it is up; it returns the
// gateway's and the query service's addresses and a stop (SIGTERM, then
// wait).
func startUp(ctx context.Context, t *testing.T, bin, tmp string) (gw, q string, stop func()) {
	t.Helper()
	up := launchUp(ctx, t, bin, append(os.Environ(), "TMPDIR="+tmp, "COUNTLAB_TOKEN=", "COUNTLAB_TOKEN_FILE="), func() ([]string, string) {
		gw, q = freeAddr(t), freeAddr(t)
		return []string{"--broker-listen", freeAddr(t), "--gateway-listen", gw, "--query-listen", q, "--partitions", "2",
			"--influx-listen", freeAddr(t), "--metrics-listen", freeAddr(t), "--windows", "10s"}, "curl -s 'http://" + q + "/v1/top"
	})
	go func() { _, _ = io.Copy(io.Discard, up.stdout) }()
	return gw, q, func() {
		_ = up.cmd.Process.Signal(syscall.SIGTERM)
		_ = up.cmd.Wait()
	}
}

// upProcess is a `countlab up` that launchUp started and saw come up.
type upProcess struct {
	cmd    *exec.Cmd
	banner string      // its stdout up to and including the ready line
	stdout io.Reader   // the rest of its stdout (to be read or discarded)
	stderr *syncBuffer // its stderr so far
}

// launchUp starts `countlab up` with env and the flags that attempt
// gives, until a line of its stdout contains the ready text attempt
// returns too. attempt picks fresh ports (freeAddr) each time it is
// called: a port taken by another process between freeAddr and the
// listen (tests run in parallel processes) makes up exit naming "address
// already in use", and it is tried again with other ports, up to three
// times. The process is killed when the test ends.
func launchUp(ctx context.Context, t *testing.T, bin string, env []string, attempt func() (args []string, ready string)) upProcess {
	t.Helper()
	for n := 1; ; n++ {
		args, ready := attempt()
		cmd := exec.CommandContext(ctx, bin, append([]string{"up"}, args...)...)
		cmd.Env = env
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		stderr := new(syncBuffer)
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(stdout)
		var banner strings.Builder
		for {
			line, err := br.ReadString('\n')
			banner.WriteString(line)
			if strings.Contains(line, ready) {
				t.Cleanup(func() { _ = cmd.Process.Kill() })
				return upProcess{cmd: cmd, banner: banner.String(), stdout: br, stderr: stderr}
			}
			if err != nil {
				break
			}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if n == 3 || !strings.Contains(stderr.String(), "address already in use") {
			t.Fatalf("countlab up did not come up (no line with %q):\n%s\nstderr:\n%s", ready, banner.String(), stderr.String())
		}
	}
}
