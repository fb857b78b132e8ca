package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/countlab/countlab/engine/influxd"
	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/kafka/kafkatest"
)

// captureOutput runs f with os.Stdout and os.Stderr going to a pipe, and
// returns what was written.
func captureOutput(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	defer func() {
		os.Stdout, os.Stderr = oldOut, oldErr
	}()
	f()
	os.Stdout, os.Stderr = oldOut, oldErr
	w.Close()
	return <-done
}

// noSecretIn fails t when a secret is in out or in a file under dir.
func noSecretIn(t *testing.T, out, dir string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the output shows a secret:\n%s", out)
		}
	}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds a secret", path)
			}
		}
		return nil
	})
}

// TestRunSecured runs ci-smoke, shortened, twice with SASL: against an
// external cluster that requires SCRAM-SHA-256 (a kfake started here) and
// an InfluxDB with auth on, and on the embedded broker with SASL PLAIN
// turned on by the login flags (password from --sasl-password-file) and
// the managed influxd with auth on (--influx-user). Both pass exactly;
// no secret is in the output or the report directory. The TLS flags
// without --brokers are refused (exit 2).
func TestRunSecured(t *testing.T) {
	const kpass, ipass = "run-kafka-Pa55-31d7", "run-influx-Pa55-c02e"
	srv := influxdtest.Start(t, influxd.Auth("runner", ipass))
	ic := srv.Config()
	c, err := kfake.NewCluster(append(kafkatest.SASL(kafka.ScramSHA256, "alice", kpass), kfake.NumBrokers(1))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv(kafka.EnvPassword, kpass)
	t.Setenv(kafka.EnvPassword+"_FILE", "")
	t.Setenv("COUNTLAB_INFLUX_PASSWORD", ipass)
	t.Setenv("COUNTLAB_INFLUX_PASSWORD_FILE", "")

	pass := func(name string, args ...string) {
		t.Helper()
		var (
			rerr error
			dir  string
			ok   bool
		)
		out := captureOutput(t, func() {
			e, r, d := runScenario(t, shorten(name+"-", 8*time.Second, 60*time.Second), append([]string{"ci-smoke"}, args...)...)
			rerr, dir = e, d
			ok = r != nil && r.Pass && r.Accuracy.Exact && r.Accuracy.CountedEvents == r.Accuracy.ExpectedEvents && r.Accuracy.ExpectedEvents > 0
			if r != nil {
				t.Logf("%s: pass=%v exact=%v expected=%d counted=%d", name, r.Pass, r.Accuracy.Exact, r.Accuracy.ExpectedEvents, r.Accuracy.CountedEvents)
			}
		})
		if rerr != nil || !ok {
			t.Errorf("%s: %v, want an exact pass:\n%s", name, rerr, out)
		}
		noSecretIn(t, out, dir, kpass, ipass, "embedded-Pa55-99")
		if !strings.Contains(out, "sasl=") && !strings.Contains(out, "SASL") {
			t.Logf("%s output:\n%s", name, out)
		}
	}
	pass("external", "--brokers", c.ListenAddrs()[0], "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", "alice",
		"--influx-url", ic.URL, "--influx-org", ic.Org, "--influx-bucket", ic.Bucket, "--influx-user", "runner")

	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("embedded-Pa55-99\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(kafka.EnvPassword, "")
	pass("embedded", "--sasl-mechanism", "PLAIN", "--sasl-user", "bob", "--sasl-password-file", pwFile, "--influx-user", "admin")

	err, _, _ = runScenario(t, nil, "ci-smoke", "--tls")
	if !strings.Contains(errString(err), "need --brokers") || exitCode(err) != 2 {
		t.Errorf("--tls with the embedded broker: %v, want exit 2", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestUpSASL runs `countlab up` with the SASL flags: the embedded broker
// requires the user (a client without SASL is refused, one with it is
// served), the banner prints the kcat command line (with the password
// left in its variable), an event posted to the gateway is counted
// through the engine and sink, which log in too, and no output shows the
// password.
func TestUpSASL(t *testing.T) {
	influxdtest.Require(t)
	const pass = "up-Pa55-5e1f"
	bin := buildCountlab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var broker, gw, q string
	up := launchUp(ctx, t, bin, secureEnv(kafka.EnvPassword+"="+pass), func() ([]string, string) { // load_test.go
		broker, gw, q = freeAddr(t), freeAddr(t), freeAddr(t)
		return []string{"--broker-listen", broker, "--gateway-listen", gw, "--query-listen", q, "--partitions", "2",
			"--influx-listen", freeAddr(t), "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", "alice"}, "kcat "
	})
	cmd, stderr := up.cmd, up.stderr
	want := "kcat -b " + broker + " -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=SCRAM-SHA-256 -X sasl.username=alice -X sasl.password=\"$COUNTLAB_KAFKA_PASSWORD\" -C -t events -o beginning -e"
	if !strings.Contains(up.banner, want) {
		t.Fatalf("banner without %q:\n%s\nstderr:\n%s", want, up.banner, stderr.String())
	}
	var rest syncBuffer
	go func() { _, _ = io.Copy(&rest, up.stdout) }()

	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	defer pcancel()
	if err := (kafka.Conn{Brokers: []string{broker}}).Ping(pctx); err == nil {
		t.Error("the embedded broker served a client without SASL")
	}
	conn := kafka.Conn{Brokers: []string{broker}, SASLMechanism: kafka.ScramSHA256, SASLUser: "alice", SASLPassword: pass}
	if err := conn.Ping(pctx); err != nil {
		t.Errorf("the embedded broker refused alice: %v", err)
	}

	ts := time.Now().UnixMilli()
	body := `[{"id":"s-1","key":"sasl-key","type":"VIEW","ts":` + strconv.FormatInt(ts, 10) + `},{"id":"s-2","key":"sasl-key","type":"VIEW","ts":` + strconv.FormatInt(ts, 10) + `}]`
	resp, err := http.Post("http://"+gw+"/v1/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/events: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := http.Get("http://" + q + "/v1/counts/sasl-key?type=VIEW&from=" + strconv.FormatInt(ts-60_000, 10) + "&to=" + strconv.FormatInt(ts+60_000, 10))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Count int64 `json:"count"`
		}
		_ = json.NewDecoder(r.Body).Decode(&got)
		r.Body.Close()
		if got.Count == 2 {
			break
		}
		if got.Count > 2 || time.Now().After(deadline) {
			t.Fatalf("count %d, want exactly 2", got.Count)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The banner's kcat line, as a user pastes it (README: Connecting to
	// a secured cluster), reads both events.
	if _, err := exec.LookPath("kcat"); err == nil {
		k := exec.CommandContext(ctx, "sh", "-c", want)
		k.Env = secureEnv(kafka.EnvPassword + "=" + pass)
		out, err := k.CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"s-1"`) || !strings.Contains(string(out), `"s-2"`) {
			t.Errorf("%s: %v\n%s", want, err, out)
		}
	} else {
		t.Log("kcat not installed: the banner's kcat line is not run")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("countlab up after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
	}
	noSecretIn(t, up.banner+rest.String()+stderr.String(), t.TempDir(), pass)
}

// TestStackSecurityFlags pins what the stack's login flags become (an
// external cluster's login, or the embedded broker's SASL and the managed
// influxd's auth; harness/stack TestWorkerLogin: how child processes get
// them) and what they refuse: the TLS flags or an InfluxDB 2.x token
// without an external target are usage errors.
func TestStackSecurityFlags(t *testing.T) {
	t.Setenv(kafka.EnvPassword, "")
	t.Setenv(kafka.EnvPassword+"_FILE", "")
	t.Setenv("COUNTLAB_INFLUX_TOKEN", "")
	t.Setenv("COUNTLAB_INFLUX_TOKEN_FILE", "")
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("stack-Pa55\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	parse := func(args ...string) (*stackFlags, error) {
		var f stackFlags
		fs := newFlagSet("up")
		f.register(fs, false)
		return &f, f.parse(fs, args)
	}
	f, err := parse("--brokers", "b:1", "--sasl-mechanism", "scram-sha-512", "--sasl-user", "alice", "--sasl-password-file", pw)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := f.kafka.conn(); err != nil || c.SASLPassword != "stack-Pa55" || c.SASLMechanism != kafka.ScramSHA512 {
		t.Errorf("conn: %s, %v", c, err)
	}
	if opts, err := f.securityOptions(); err != nil || len(opts) != 1 {
		t.Errorf("external cluster: %d options, %v", len(opts), err)
	}
	f, err = parse("--sasl-mechanism", "PLAIN", "--sasl-user", "bob", "--sasl-password-file", pw, "--influx-user", "admin", "--influx-password-file", pw)
	if err != nil {
		t.Fatal(err)
	}
	if opts, err := f.securityOptions(); err != nil || len(opts) != 2 {
		t.Errorf("embedded broker SASL and managed influxd auth: %d options, %v", len(opts), err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls"}, "need --brokers"},
		{[]string{"--sasl-mechanism", "PLAIN", "--sasl-user", "u"}, "has no password"},
		{[]string{"--influx-user", "u"}, "has no password"},
		{[]string{"--influx-token-file", pw}, "there is no --influx-url"},
	} {
		if _, err := parse(tc.args...); exitCode(err) != 2 || !strings.Contains(errString(err), tc.want) {
			t.Errorf("%v: %v, want exit 2 with %q", tc.args, err, tc.want)
		}
	}
}
