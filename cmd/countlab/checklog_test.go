package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/harness/stack"
)

// requireTool is the path of an external tool a test drives, or a skip;
// a failure under CI or COUNTLAB_REQUIRE_TOOLS=1 (make test), where a
// missing tool must not pass silently.
func requireTool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("COUNTLAB_REQUIRE_TOOLS") == "1" || os.Getenv("CI") != "" {
		t.Fatalf("%s is required here (%s): %v", name, install, err)
	}
	t.Skipf("skipping: %s not found (%s; COUNTLAB_REQUIRE_TOOLS=1 makes this a failure)", name, install)
	return ""
}

// logTestStack starts the embedded stack in-process on 2 partitions, with
// the test's influxd; extra options come after the flags'.
func logTestStack(t *testing.T, extra ...stack.Opt) *stack.Stack {
	t.Helper()
	influxdtest.Require(t)
	fs := newFlagSet("test")
	var sf stackFlags
	sf.register(fs, false)
	if err := sf.parse(fs, append([]string{"--partitions", "2", "--windows", "10s,1m"}, testInflux(t)...)); err != nil {
		t.Fatal(err)
	}
	opts, err := sf.options(sf.logger(io.Discard), false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, err := stack.New(ctx, append(opts, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// checkLogArgs are check --from-log's flags for st.
func checkLogArgs(st *stack.Stack, more ...string) []string {
	return append([]string{"--from-log", "--brokers", st.Conn().String(), "--query", "http://" + st.QueryAddr(),
		"--influx-url", st.Influx().URL, "--influx-org", st.Influx().Org, "--influx-bucket", st.Influx().Bucket,
		"--windows", "10s,1m", "--wait", "30s"}, more...)
}

// runCheckLog runs check --from-log and returns its error and output.
func runCheckLog(t *testing.T, args ...string) (error, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cerr := cmdCheck(ctx, args)
	os.Stdout = old
	w.Close()
	out := <-done
	t.Logf("check --from-log: %v\n%s", cerr, out)
	return cerr, out
}

func exitCode(err error) int {
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	case errors.As(err, &ee):
		return ee.code
	}
	return 1
}

// flakyProxy forwards to target, and answers every third request that
// the gateway accepted with a 502 instead: the client does not know the
// outcome and re-sends the same events (their ids unchanged).
func flakyProxy(t *testing.T, target string) (string, *atomic.Int64) {
	t.Helper()
	u, err := url.Parse("http://" + target)
	if err != nil {
		t.Fatal(err)
	}
	var n, dropped atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, u.String()+r.URL.Path, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		if n.Add(1)%3 == 0 {
			dropped.Add(1)
			http.Error(w, `{"error":"proxy lost the answer"}`, http.StatusBadGateway)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(rb)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &dropped
}

// TestCheckFromLogK6Lib drives the gateway the way the k6 scripts do (the
// k6 library itself, under Node: same JSON, headers, ids, re-sends and
// shard summary), through a proxy that loses every third answer, and then
// checks with --from-log and the summary: exact (exit 0), every
// acknowledged event in the log, the re-sent ones not counted twice.
//
// Each of these tests has a stack of its own: the check's search for keys
// the truth lacks looks at whole windows, which two runs at once share.
func TestCheckFromLogK6Lib(t *testing.T) {
	node := requireTool(t, "node", "Node.js 18+, e.g. apt-get install -y nodejs")
	st := logTestStack(t)
	{
		proxy, dropped := flakyProxy(t, st.GatewayAddr())
		run := "t-k6-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		summary := filepath.Join(t.TempDir(), "summary.json")
		cmd := exec.Command(node, "../../k6/tools/drive-gateway.js")
		cmd.Env = append(os.Environ(), "GATEWAY_URL="+proxy, "RUN_ID="+run, "ITERATIONS=30", "BATCH=50", "CONCURRENCY=3",
			"KEYS=40", "KEY_PREFIX="+run+"-video-", "SUMMARY="+summary)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("drive-gateway.js: %v\n%s", err, out)
		}
		t.Logf("%s(%d answers lost by the proxy)", out, dropped.Load())
		if dropped.Load() == 0 || !strings.Contains(string(out), "failed 0") {
			t.Fatalf("want answers lost and every event settled after re-sends: %s", out)
		}
		err, text := runCheckLog(t, checkLogArgs(st, "--summary", summary)...)
		if err != nil {
			t.Fatalf("check --from-log: %v, want exact (exit 0)", err)
		}
		for _, want := range []string{"EXACT:", "every acknowledged event is in the log", "duplicates", "0 mismatched"} {
			if !strings.Contains(text, want) {
				t.Errorf("output without %q", want)
			}
		}
		// InfluxDB as the whole read side (a target without the query
		// service): exact too.
		args := checkLogArgs(st, "--summary", summary)
		args[4] = ""
		if err, text := runCheckLog(t, args...); err != nil || !strings.Contains(text, "read side: InfluxDB alone") {
			t.Errorf("check against InfluxDB alone: %v, want exact", err)
		}
		// The wrong run prefix reads none of it: a configuration error.
		if err, _ := runCheckLog(t, checkLogArgs(st, "--id-prefix", "no-such-run-")...); exitCode(err) != 2 {
			t.Errorf("check of a run not in the log: %v, want exit 2", err)
		}
		// A query service that does not answer: a configuration error too.
		args = checkLogArgs(st, "--summary", summary)
		args[4] = "http://" + freeAddr(t)
		if err, _ := runCheckLog(t, args...); exitCode(err) != 2 || !strings.Contains(err.Error(), "unreachable") {
			t.Errorf("check against a query service that is not there: %v, want exit 2", err)
		}
		// A summary whose acknowledged events are not in the log: lost.
		lost := filepath.Join(t.TempDir(), "lost.json")
		os.WriteFile(lost, []byte(`{"countlab_shard_summary":1,"run_id":"gone","id_prefix":"gone-","segment":"0:1","acknowledged":5}`), 0o644)
		if err, text := runCheckLog(t, checkLogArgs(st, "--summary", lost)...); exitCode(err) != 1 || !strings.Contains(text, "5 ACKNOWLEDGED EVENTS ARE NOT IN THE LOG") {
			t.Errorf("acknowledged events missing from the log: %v, want exit 1 saying so", err)
		}
	}
}

// TestCheckFromLogKcat produces with kcat (a non-countlab Kafka client,
// Debian's) straight to the events topic: duplicates (exact copies, and the
// same (key, id) with another type, value and time), out-of-order and
// malformed events, with the murmur2 partitioner and with kcat's default;
// check --from-log is exact (exit 0).
func TestCheckFromLogKcat(t *testing.T) {
	kcat := requireTool(t, "kcat", "apt-get install -y kcat")
	st := logTestStack(t)
	{
		run := "t-kc-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		now := time.Now().UnixMilli()
		ev := func(id string, key int, typ string, value, ts int64) string {
			k := fmt.Sprintf("%s-k%d", run, key)
			return fmt.Sprintf("%s|{\"id\":\"%s-%s\",\"key\":%q,\"type\":%q,\"value\":%d,\"ts\":%d,\"dims\":{\"country\":\"US\"}}\n", k, run, id, k, typ, value, ts)
		}
		// Half with the murmur2 partitioner (Kafka's default: each record in
		// its canonical partition, the engine's efficient path), half with
		// kcat's own default (consistent_random, CRC32): the engine moves
		// those records to their canonical partition and counts them there.
		var lines [2]strings.Builder
		for i := 0; i < 200; i++ {
			l := &lines[i/100]
			ts := now - int64(i%7)*400 // out of order, within the out-of-orderness
			l.WriteString(ev(strconv.Itoa(i), i%9, "VIEW", int64(1+i%5), ts))
			if i%10 == 0 {
				l.WriteString(ev(strconv.Itoa(i), i%9, "VIEW", int64(1+i%5), ts)) // an exact duplicate
				l.WriteString(ev(strconv.Itoa(i), i%9, "LIKE", 100, ts-1000))     // same (key, id): a duplicate too
			}
			if i%50 == 0 {
				l.WriteString(fmt.Sprintf("%s-k0|{\"id\":\"%s-bad-%d\",\"key\":\"%s-k0\",\"type\":\"VIEWS\",\"ts\":%d}\n", run, run, i, run, now))
			}
		}
		for i, part := range [][]string{{"-X", "partitioner=murmur2_random"}, nil} {
			args := append([]string{"-P", "-b", st.Conn().String(), "-t", st.Topics().Events, "-K", "|", "-X", "acks=all"}, part...)
			cmd := exec.Command(kcat, args...)
			cmd.Stdin = strings.NewReader(lines[i].String())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("kcat %v: %v\n%s", part, err, out)
			}
		}
		err, text := runCheckLog(t, checkLogArgs(st, "--id-prefix", run+"-")...)
		if err != nil {
			t.Fatalf("check --from-log of kcat's events: %v, want exact (exit 0)", err)
		}
		if !strings.Contains(text, "200 distinct events") || !strings.Contains(text, "40 duplicates") || !strings.Contains(text, "4 refused") {
			t.Errorf("want 200 distinct events, 40 duplicates and 4 refused in the log summary")
		}
		if strings.Contains(text, " 0 moved") {
			t.Errorf("want records moved to their canonical partition (kcat's default partitioner is not murmur2)")
		}
	}
	{
		// A producer that splits a hot key the check was not told of:
		// records keyed K#i. The truth's canonical partitions would not be
		// the engine's, so the check refuses (exit 2) naming --hot-key.
		run := "t-ks-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		now := time.Now().UnixMilli()
		var b strings.Builder
		for i := 0; i < 6; i++ {
			fmt.Fprintf(&b, "%s-hot#%d|{\"id\":\"%s-%d\",\"key\":\"%s-hot\",\"type\":\"VIEW\",\"ts\":%d}\n", run, i%3, run, i, run, now)
		}
		cmd := exec.Command(kcat, "-P", "-b", st.Conn().String(), "-t", st.Topics().Events, "-K", "|", "-X", "acks=all", "-X", "partitioner=murmur2_random")
		cmd.Stdin = strings.NewReader(b.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat: %v\n%s", err, out)
		}
		err, _ := runCheckLog(t, checkLogArgs(st, "--id-prefix", run+"-", "--hot-key", run+"-hot=2")...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), run+"-hot (record keys up to "+run+"-hot#2)") || !strings.Contains(err.Error(), "give --hot-key KEY=N") {
			t.Errorf("check of records split 3 ways with --hot-key KEY=2: %v, want exit 2 naming the key and --hot-key", err)
		}
	}
}

// TestCheckFromLogConfig: configuration errors are exit 2 with the fix
// named: unreachable brokers, no traffic named, a bad time, a summary of
// another run.
func TestCheckFromLogConfig(t *testing.T) {
	err, _ := runCheckLog(t, "--from-log", "--brokers", freeAddr(t), "--id-prefix", "x-", "--connect-timeout", "1s")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("unreachable brokers: %v, want exit 2 naming them", err)
	}
	sum := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(sum, []byte(`{"countlab_shard_summary":1,"run_id":"a","id_prefix":"a-","segment":"0:1","acknowledged":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--brokers", "127.0.0.1:1"}, "--from/--to"},
		{[]string{"--id-prefix", "x-"}, "--brokers is required"},
		{[]string{"--brokers", "127.0.0.1:1", "--from", "yesterday"}, "--from: want RFC 3339"},
		{[]string{"--brokers", "127.0.0.1:1", "--summary", sum, "--id-prefix", "b-"}, "run prefix"},
		{[]string{"--brokers", "127.0.0.1:1", "--id-prefix", "x-", "--windows", "1m", "--lateness", "20m"}, "dedup horizon"},
	} {
		err, _ := runCheckLog(t, append([]string{"--from-log"}, c.args...)...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want exit 2 saying %q", c.args, err, c.want)
		}
	}
}

// TestCheckFromLogDoubleCount: a pipeline that double counts (the engine
// in its test-only at-least-once mode, which keeps no dedup state across a
// partition move) fails check --from-log (exit 1) naming the windows.
// Events go in, are counted, a second worker joins (the partitions move
// without their dedup ids), and the same events are sent again.
func TestCheckFromLogDoubleCount(t *testing.T) {
	st := logTestStack(t, stack.AtLeastOnceUNSAFE(true))
	run := "t-dc-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	now := time.Now().UnixMilli()
	post := func() { postViews(t, st, run, run, 200, 20, now) }
	post()
	if err, _ := runCheckLog(t, checkLogArgs(st, "--id-prefix", run+"-")...); err != nil {
		t.Fatalf("before the move: %v, want exact", err)
	}
	w, err := aggregate.New(aggregate.Conn(st.Conn()), aggregate.Topics(st.Topics()), aggregate.Windows(st.Windows()...),
		aggregate.AllowedLateness(st.Lateness()), aggregate.OutOfOrderness(st.OutOfOrderness()),
		aggregate.AtLeastOnce(), aggregate.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-w.Ready():
	case err := <-done:
		t.Fatalf("second worker: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("second worker not ready")
	}
	// The same events again (duplicates), until a partition has moved to
	// the new worker (bounded: the group settles within seconds).
	var text string
	for try := 0; try < 5; try++ {
		time.Sleep(2 * time.Second)
		post()
		time.Sleep(2 * time.Second) // the engine counts them
		if err, text = runCheckLog(t, checkLogArgs(st, "--id-prefix", run+"-", "--wait", "2s")...); err != nil {
			break
		}
	}
	if exitCode(err) != 1 {
		t.Fatalf("check of a double-counting pipeline: %v, want exit 1", err)
	}
	if !strings.Contains(text, "NOT EXACT") || !strings.Contains(text, "bad window:") || !strings.Contains(text, run+"-k") {
		t.Fatalf("the failure does not name the windows (key, type, window, got vs want)")
	}
}

// TestReconcileTime: --from/--to take the ingest's grammar (RFC 3339 with
// T and Z in either case, an offset, or unix milliseconds), and anything
// else is exit 2 naming the flag.
func TestReconcileTime(t *testing.T) {
	want := time.Date(2026, 12, 1, 12, 0, 0, 250e6, time.UTC)
	for _, s := range []string{"2026-12-01T12:00:00.250Z", "2026-12-01t12:00:00.250z", "2026-12-01T13:00:00.250+01:00", "1796126400250"} {
		got, err := reconcileTime("from", s)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"2026-12-01 12:00:00Z", "2026-12-01T12:00Z", "yesterday"} {
		if _, err := reconcileTime("to", s); exitCode(err) != 2 || !strings.Contains(err.Error(), "--to: want RFC 3339") {
			t.Errorf("%q: %v, want exit 2 naming --to", s, err)
		}
	}
}

// TestCheckFromLogShared: another run's events on the same keys and
// windows make the read side count more than this run's truth; check
// --from-log --id-prefix says so (SHARED, naming the other traffic), not
// DOUBLE COUNTED, and still exits 1 (it cannot be exact there).
func TestCheckFromLogShared(t *testing.T) {
	st := logTestStack(t)
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	runA, runB := "t-sa-"+stamp, "t-sb-"+stamp
	now := time.Now().UnixMilli()
	post := func(run, keys string, n int) { postViews(t, st, run, keys, n, 10, now) }
	post(runA, runA, 100)
	if err, text := runCheckLog(t, checkLogArgs(st, "--id-prefix", runA+"-")...); err != nil {
		t.Fatalf("run A alone: %v, want exact\n%s", err, text)
	}
	post(runB, runA, 30) // run B on run A's keys and windows
	// Run B's own check: its windows hold run A's events too (shared from
	// the first look on). Its --wait (the shared windows never match)
	// leaves the pipeline time to count run B.
	err, text := runCheckLog(t, checkLogArgs(st, "--id-prefix", runB+"-", "--wait", "5s")...)
	if exitCode(err) != 1 || !strings.Contains(text, "SHARED:") || strings.Contains(text, "DOUBLE COUNTED") {
		t.Fatalf("check of run B on run A's keys: %v, want exit 1 and SHARED\n%s", err, text)
	}
	err, text = runCheckLog(t, checkLogArgs(st, "--id-prefix", runA+"-", "--wait", "5s")...)
	if exitCode(err) != 1 {
		t.Fatalf("check of run A on shared keys: %v, want exit 1\n%s", err, text)
	}
	if !strings.Contains(text, "SHARED: 10 windows count 30 events more") || strings.Contains(text, "DOUBLE COUNTED") || !strings.Contains(text, "duplicated 0") {
		t.Fatalf("want the surplus labelled SHARED, not DOUBLE COUNTED:\n%s", text)
	}
	t.Logf("%s", text)
}

// postViews posts n VIEW events at ts, ids RUN-i, keys KEYS-k(i%mod), in
// one batch to the stack's gateway, and wants 200.
func postViews(t *testing.T, st *stack.Stack, run, keys string, n, mod int, ts int64) {
	t.Helper()
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":"%s-%d","key":"%s-k%d","type":"VIEW","ts":%d}`, run, i, keys, i%mod, ts)
	}
	b.WriteString("]")
	resp, err := http.Post("http://"+st.GatewayAddr()+"/v1/events", "application/json", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/events: %d", resp.StatusCode)
	}
}
