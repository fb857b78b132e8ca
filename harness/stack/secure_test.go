package stack

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/harness/stack/stacktest"
)

// TestWorkerLogin pins how the stack's child processes log in: the SASL
// and TLS settings are flags, the password only in the environment.
func TestWorkerLogin(t *testing.T) {
	const pass = "worker-Pa55"
	st := &Stack{cfg: defaultCfg(), conn: kafka.Conn{Brokers: []string{"b:1"}, SASLMechanism: kafka.ScramSHA512,
		SASLUser: "alice", SASLPassword: pass, TLSCAFile: "/ca.pem", TLS: true}}
	args := strings.Join(st.workerArgs(0), " ")
	if !strings.Contains(args, "--brokers b:1") || !strings.Contains(args, "--sasl-mechanism SCRAM-SHA-512 --sasl-user alice --tls --tls-ca-file /ca.pem") || strings.Contains(args, pass) {
		t.Errorf("worker args: %s", args)
	}
	env := strings.Join(st.childEnv(), "\n")
	if !strings.Contains(env, kafka.EnvPassword+"="+pass) {
		t.Error("the worker's environment lacks the password")
	}

	c := defaultCfg()
	BrokerSASL("plain", "", "x")(&c)
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), "--sasl-user") {
		t.Errorf("BrokerSASL without a user: %v", err)
	}
	c = defaultCfg()
	InfluxAuth("admin", "")(&c)
	if err := c.validate(); err == nil {
		t.Error("InfluxAuth without a password: no error")
	}
}

// TestBrokerProcessSASL runs the broker as a `countlab broker` process with
// BrokerSASL: it requires the user (the password reached it through its
// environment only), and after a kill -9 and a restart it still does and
// keeps the records; waitWrites logs in to watch them.
func TestBrokerProcessSASL(t *testing.T) {
	const pass = "brokerproc-Pa55"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := defaultCfg()
	f.binary, f.logLevel = stacktest.Binary(t), slog.LevelError
	BrokerSASL("SCRAM-SHA-256", "alice", pass)(&f)
	t.Setenv(kafka.EnvPassword, "")
	b, err := startBrokerChild(ctx, &f, t.TempDir(), func(err error) {})
	if err != nil {
		t.Fatal(err)
	}
	defer b.stop()
	if a := strings.Join(b.args, " "); !strings.Contains(a, "--sasl-mechanism SCRAM-SHA-256 --sasl-user alice") || strings.Contains(a, pass) {
		t.Errorf("broker args: %s", a)
	}
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	defer pcancel()
	if err := (kafka.Conn{Brokers: []string{b.addr}}).Ping(pctx); err == nil {
		t.Error("the broker process served a client without SASL")
	}
	cl, err := b.conn.NewClient(kgo.DefaultProduceTopic(b.events))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce as alice: %v", err)
	}
	if err := b.kill(); err != nil {
		t.Fatal(err)
	}
	if err := b.restart(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	go func() {
		time.Sleep(time.Second)
		cl.ProduceSync(ctx, &kgo.Record{Value: []byte("y")})
	}()
	if ok, err := b.waitWrites(ctx, 20*time.Second); !ok || err != nil {
		t.Errorf("waitWrites after the restart: %v %v", ok, err)
	}
	if err := (kafka.Conn{Brokers: []string{b.addr}}).Ping(pctx); err == nil {
		t.Error("after the restart: served a client without SASL")
	}
}
