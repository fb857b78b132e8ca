package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/influxd"
	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/kafka/kafkatest"
)

// The secrets of TestSecuredCommands: none may appear in any output.
const (
	secureKafkaPass  = "kafka-Pa55-7f3c9e-never-logged"
	secureInfluxPass = "influx-Pa55-b81d0a-never-logged"
)

// secureProc is a countlab process of TestSecuredCommands, its stdout and
// stderr in out.
type secureProc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// startSecure starts `countlab args...` with env and waits until a line of
// its output contains ready.
func startSecure(t *testing.T, bin string, env []string, ready string, args ...string) *secureProc {
	t.Helper()
	p := &secureProc{name: args[0], cmd: exec.Command(bin, args...), out: new(syncBuffer), done: make(chan struct{})}
	p.cmd.Env = env
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	seen := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(r)
		once := false
		for sc.Scan() {
			fmt.Fprintln(p.out, sc.Text())
			if !once && strings.Contains(sc.Text(), ready) {
				once = true
				close(seen)
			}
		}
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	select {
	case <-seen:
	case <-p.done:
		t.Fatalf("countlab %s exited before %q:\n%s", p.name, ready, p.out)
	case <-time.After(90 * time.Second):
		t.Fatalf("countlab %s: no %q in 90s:\n%s", p.name, ready, p.out)
	}
	return p
}

// runSecure runs `countlab args...` with env to its end: exit code and
// output.
func runSecure(t *testing.T, bin string, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("countlab %v: %v", args, err)
	return 0, ""
}

// secureEnv is the environment without any countlab secret, plus kv.
func secureEnv(kv ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "COUNTLAB_KAFKA_PASSWORD") && !strings.HasPrefix(e, "COUNTLAB_INFLUX_") && !strings.HasPrefix(e, "COUNTLAB_TOKEN") {
			env = append(env, e)
		}
	}
	return append(env, kv...)
}

// TestSecuredCommands runs the reference pipeline by hand, as separate
// processes, against a broker that requires SASL (SCRAM-SHA-512) and the
// managed influxd with auth on: gateway, engine (password from
// --sasl-password-file), sink and query-server (passwords from the
// environment) all log in; countlab check --from-log then finds every
// window exact against the truth read from the log (through the query
// service and InfluxDB), and reconcile --dry-run finds nothing to fix. Bad
// combinations, a wrong Kafka password and wrong InfluxDB credentials are
// exit 2 naming the flag. No secret appears in any output.
func TestSecuredCommands(t *testing.T) {
	bin := buildCountlab(t)
	srv := influxdtest.Start(t, influxd.Auth("countlab-admin", secureInfluxPass))
	ic := srv.Config()
	c, err := kfake.NewCluster(append(kafkatest.SASL(kafka.ScramSHA512, "alice", secureKafkaPass), kfake.NumBrokers(1))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()[0]
	pwFile := filepath.Join(t.TempDir(), "kafka-password")
	if err := os.WriteFile(pwFile, []byte(secureKafkaPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sasl := []string{"--brokers", brokers, "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "alice"}
	influxArgs := []string{"--influx-url", ic.URL, "--influx-bucket", ic.Bucket, "--influx-user", "countlab-admin"}
	env := secureEnv(kafka.EnvPassword+"="+secureKafkaPass, "COUNTLAB_INFLUX_PASSWORD="+secureInfluxPass)
	var outputs []string

	// Bad combinations and refused logins: exit 2, naming the flag.
	junk := filepath.Join(t.TempDir(), "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{env, []string{"engine", "--brokers", brokers, "--sasl-mechanism", "PLAIN"}, "needs --sasl-user"},
		{env, []string{"gateway", "--brokers", brokers, "--sasl-mechanism", "KERBEROS", "--sasl-user", "alice"}, `--sasl-mechanism "KERBEROS"`},
		{env, append([]string{"sink", "--tls-ca-file", junk, "--influx-url", ic.URL}, sasl...), "--tls-ca-file " + junk + ": no PEM certificate"},
		{env, append([]string{"reconcile", "--tls-cert-file", junk, "--from", "1", "--to", "2", "--influx-url", ic.URL}, sasl...), "--tls-cert-file without --tls-key-file"},
		{env, []string{"query-server", "--brokers", brokers}, "--sasl-mechanism is not"},
		{secureEnv(kafka.EnvPassword + "=wrong-password"), append([]string{"engine"}, sasl...), `SASL SCRAM-SHA-512 login as "alice"`},
		{secureEnv(kafka.EnvPassword + "=wrong-password"), append([]string{"check", "--from-log", "--id-prefix", "sec-", "--query", ""}, sasl...), `SASL SCRAM-SHA-512 login as "alice"`},
		{secureEnv(kafka.EnvPassword+"="+secureKafkaPass, kafka.EnvPassword+"_FILE="+pwFile), append([]string{"gateway"}, sasl...), "both set"},
		{secureEnv(kafka.EnvPassword+"="+secureKafkaPass, "COUNTLAB_INFLUX_PASSWORD=wrong-password"), append(append([]string{"sink"}, sasl...), influxArgs...), "InfluxDB refused the credentials"},
		{env, append(append([]string{"sink"}, sasl...), "--influx-url", ic.URL, "--influx-bucket", ic.Bucket), "--influx-user is not"},
	} {
		code, out := runSecure(t, bin, tc.env, tc.args...)
		outputs = append(outputs, out)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("countlab %v: exit %d, want 2 and %q:\n%s", tc.args, code, tc.want, out)
		}
	}

	// The pipeline.
	gwAddr, qAddr := freeAddr(t), freeAddr(t)
	gw := startSecure(t, bin, env, "listening on", append([]string{"gateway", "--listen", gwAddr, "--partitions", "2"}, sasl...)...)
	fileEnv := secureEnv("COUNTLAB_INFLUX_PASSWORD=" + secureInfluxPass) // the engine reads the file
	eng := startSecure(t, bin, fileEnv, "engine ready", append([]string{"engine", "--sasl-password-file", pwFile, "--windows", "1m",
		"--lateness", "0s", "--out-of-orderness", "2s", "--txn-id", "secure-engine-0"}, sasl...)...)
	snk := startSecure(t, bin, env, "countlab sink:", append(append([]string{"sink"}, sasl...), influxArgs...)...)
	qs := startSecure(t, bin, env, "query-server: listening", append(append([]string{"query-server", "--listen", qAddr, "--windows", "60s"}, sasl...), influxArgs...)...)

	// Events of the past straight to the topic (a replay: the record
	// timestamp is the event time), 30 duplicates, and a marker
	// per key three hours later that closes every window.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn := kafka.Conn{Brokers: []string{brokers}, SASLMechanism: kafka.ScramSHA512, SASLUser: "alice", SASLPassword: secureKafkaPass}
	cl, err := conn.NewClient(kgo.DefaultProduceTopic("events"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	from := time.Now().UTC().Add(-6 * time.Hour).Truncate(time.Hour)
	var recs []*kgo.Record
	add := func(e event.Event) {
		recs = append(recs, &kgo.Record{Key: []byte(e.Key), Value: event.AppendJSON(nil, &e), Timestamp: time.UnixMilli(e.TS)})
	}
	for i := range 300 {
		add(event.Event{ID: "sec-" + strconv.Itoa(i%270), Key: fmt.Sprint("sec-k", i%3), Type: "VIEW", Value: 1, TS: from.UnixMilli() + int64(i)*700})
	}
	for k := range 3 {
		add(event.Event{ID: fmt.Sprint("sec-marker-", k), Key: fmt.Sprint("sec-k", k), Type: "VIEW", Value: 1, TS: from.Add(3 * time.Hour).UnixMilli()})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// One batch through the gateway (now): it produces as alice.
	body := `[{"id":"sec-gw-1","key":"sec-gw","type":"VIEW","ts":` + strconv.FormatInt(time.Now().UnixMilli(), 10) + `}]`
	resp, err := http.Post("http://"+gwAddr+"/v1/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("gateway: HTTP %d", resp.StatusCode)
	}

	checkArgs := append(append([]string{"check", "--from-log", "--from", from.Format(time.RFC3339), "--to", from.Add(time.Hour).Format(time.RFC3339),
		"--id-prefix", "sec-", "--query", "http://" + qAddr, "--windows", "1m", "--lateness", "0s", "--out-of-orderness", "2s", "--wait", "90s"}, sasl...), influxArgs...)
	code, out := runSecure(t, bin, env, checkArgs...)
	outputs = append(outputs, out)
	if code != 0 || !strings.Contains(out, "270 distinct events") || !strings.Contains(out, "30 duplicates") || !strings.Contains(out, "EXACT") {
		t.Errorf("check --from-log: exit %d, want 0 with 270 distinct events, 30 duplicates, EXACT:\n%s", code, out)
	}
	t.Logf("check --from-log:\n%s", out)
	recArgs := append(append([]string{"reconcile", "--from", from.Format(time.RFC3339), "--to", from.Add(time.Hour).Format(time.RFC3339),
		"--windows", "1m", "--lateness", "0s", "--out-of-orderness", "2s", "--dry-run", "--fail-on-diff"}, sasl...), influxArgs...)
	code, out = runSecure(t, bin, env, recArgs...)
	outputs = append(outputs, out)
	if code != 0 || !strings.Contains(out, `"windows_differing": 0`) {
		t.Errorf("reconcile --dry-run: exit %d:\n%s", code, out)
	}

	for _, p := range []*secureProc{gw, eng, snk, qs} {
		outputs = append(outputs, p.out.String())
	}
	for i, out := range outputs {
		for _, s := range []string{secureKafkaPass, secureInfluxPass} {
			if strings.Contains(out, s) {
				t.Errorf("output %d shows a secret:\n%s", i, out)
			}
		}
	}
}
