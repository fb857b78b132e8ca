package kafka

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/kafka/kafkatest"
)

const testPassword = "pa55-w0rd-never-logged"

// roundTrip produces n records to topic t through a client of conn and
// reads them back, failing the test on any error.
func roundTrip(t *testing.T, conn Conn, topic string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := conn.NewClient(kgo.DefaultProduceTopic(topic), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatalf("produce through %s: %v", conn, err)
		}
	}
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("fetch through %s: %v", conn, err)
		}
		got += fs.NumRecords()
	}
	if got != n {
		t.Fatalf("read %d records back, want %d", got, n)
	}
}

// pingErr is the error of conn.Ping.
func pingErr(t *testing.T, conn Conn) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return conn.Ping(ctx)
}

// TestSASL connects to a kfake broker with SASL on, with each mechanism:
// the right password produces and reads records, a wrong one and none are
// refused, and the refusal says authentication failed.
func TestSASL(t *testing.T) {
	for _, mech := range []string{PLAIN, ScramSHA256, ScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			c, err := kfake.NewCluster(append(kafkatest.SASL(mech, "alice", testPassword),
				kfake.NumBrokers(1), kfake.Ports(0), kfake.SeedTopics(2, "t"))...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conn := Conn{Brokers: c.ListenAddrs(), SASLMechanism: strings.ToLower(mech), SASLUser: "alice", SASLPassword: testPassword}
			roundTrip(t, conn, "t", 20)

			bad := conn
			bad.SASLPassword = "wrong"
			err = pingErr(t, bad)
			if want := `SASL ` + mech + ` login as "alice" to ` + c.ListenAddrs()[0] + ` refused`; err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "wrong") {
				t.Errorf("wrong password: got %v, want %q (and not the password)", err, want)
			}
			t.Logf("wrong password: %v", err)
			if !errors.Is(err, ErrRefused) {
				t.Errorf("wrong password: %v does not wrap ErrRefused", err)
			}
			if err := pingErr(t, Conn{Brokers: c.ListenAddrs()}); err == nil || !strings.Contains(err.Error(), "requires TLS or SASL") {
				t.Errorf("a client without SASL: got %v", err)
			}
			if s := conn.String(); strings.Contains(s, testPassword) || !strings.Contains(s, "sasl="+mech) {
				t.Errorf("String() = %q", s)
			}
		})
	}
}

// TestTLS connects to a kfake broker serving TLS that requires a client
// certificate: with the CA file and a client certificate (and SASL on top)
// records go through; without the client certificate, or verifying
// against another CA, the handshake fails.
func TestTLS(t *testing.T) {
	pki := kafkatest.NewPKI(t)
	c, err := kfake.NewCluster(append(kafkatest.SASL(ScramSHA512, "bob", testPassword),
		kfake.NumBrokers(1), kfake.Ports(0), kfake.SeedTopics(1, "t"), kfake.TLS(pki.Server))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn := Conn{Brokers: c.ListenAddrs(), SASLMechanism: ScramSHA512, SASLUser: "bob", SASLPassword: testPassword,
		TLSCAFile: pki.CAFile, TLSCertFile: pki.CertFile, TLSKeyFile: pki.KeyFile}
	roundTrip(t, conn, "t", 20)

	noCert := conn
	noCert.TLSCertFile, noCert.TLSKeyFile = "", ""
	if err := pingErr(t, noCert); err == nil || !strings.Contains(err.Error(), "TLS with") || !errors.Is(err, ErrRefused) {
		t.Errorf("without a client certificate: got %v", err)
	}
	otherCA := conn
	otherCA.TLSCAFile = pki.OtherCAFile
	if err := pingErr(t, otherCA); err == nil || !strings.Contains(err.Error(), "check --tls-ca-file") {
		t.Errorf("verified against another CA: got %v, want a certificate error", err)
	}
	plain := conn
	plain.TLS, plain.TLSCAFile, plain.TLSCertFile, plain.TLSKeyFile = false, "", "", ""
	if err := pingErr(t, plain); err == nil {
		t.Error("a plaintext client was served by a TLS broker")
	}
	t.Logf("errors: no client cert: %v\nother CA: %v\nplaintext: %v", pingErr(t, noCert), pingErr(t, otherCA), pingErr(t, plain))
}

// TestTLSBrokerMap sends a TLS client through a plain TCP proxy (the
// network-fault path): the dialer does TLS on top of the proxied
// connection and verifies the broker's own name.
func TestTLSBrokerMap(t *testing.T) {
	zerolog.SetGlobalLevel(zerolog.Disabled)
	pki := kafkatest.NewPKI(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.SeedTopics(1, "t"), kfake.TLS(pki.Server))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "b0", "127.0.0.1:0", c.ListenAddrs()[0])
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	conn := Conn{Brokers: c.ListenAddrs(), TLSCAFile: pki.CAFile, TLSCertFile: pki.CertFile, TLSKeyFile: pki.KeyFile,
		BrokerMap: map[string]string{c.ListenAddrs()[0]: p.Listen}}
	roundTrip(t, conn, "t", 10)
	p.Stop()
	if err := pingErr(t, conn); err == nil {
		t.Error("a request went through with the proxy stopped")
	}
}

// TestValidate pins the combinations that fail fast, and that their errors
// name the flag and never the password.
func TestValidate(t *testing.T) {
	pki := kafkatest.NewPKI(t)
	junk := filepath.Join(t.TempDir(), "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := []string{"127.0.0.1:9092"}
	f := func(c Conn, want string) {
		t.Helper()
		err := c.Validate()
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", c, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: got %v, want an error with %q", c, err, want)
		case err != nil && strings.Contains(err.Error(), testPassword):
			t.Errorf("the error shows the password: %v", err)
		}
		if _, oerr := c.Opts(); (oerr == nil) != (err == nil) {
			t.Errorf("%s: Opts %v, Validate %v", c, oerr, err)
		}
	}
	f(Conn{Brokers: b}, "")
	f(Conn{}, "--brokers")
	f(Conn{Brokers: b, SASLMechanism: "scram-sha-256", SASLUser: "u", SASLPassword: testPassword}, "")
	f(Conn{Brokers: b, SASLMechanism: "PLAIN"}, "needs --sasl-user")
	f(Conn{Brokers: b, SASLMechanism: "PLAIN", SASLUser: "u"}, "has no password: set COUNTLAB_KAFKA_PASSWORD")
	f(Conn{Brokers: b, SASLMechanism: "GSSAPI", SASLUser: "u", SASLPassword: testPassword}, `--sasl-mechanism "GSSAPI"`)
	f(Conn{Brokers: b, SASLUser: "u"}, "without --sasl-mechanism")
	f(Conn{Brokers: b, SASLPassword: testPassword}, "--sasl-mechanism is not")
	f(Conn{Brokers: b, TLS: true}, "")
	f(Conn{Brokers: b, TLSCAFile: pki.CAFile}, "")
	f(Conn{Brokers: b, TLSCAFile: junk}, "--tls-ca-file "+junk+": no PEM certificate")
	f(Conn{Brokers: b, TLSCAFile: junk + ".missing"}, "--tls-ca-file: open")
	f(Conn{Brokers: b, TLSCertFile: pki.CertFile, TLSKeyFile: pki.KeyFile}, "")
	f(Conn{Brokers: b, TLSCertFile: pki.CertFile}, "--tls-cert-file without --tls-key-file")
	f(Conn{Brokers: b, TLSKeyFile: pki.KeyFile}, "--tls-key-file without --tls-cert-file")
	f(Conn{Brokers: b, TLSCertFile: pki.CertFile, TLSKeyFile: junk}, "--tls-key-file "+junk)
}

// TestFlags parses the connection flags and the password's sources.
func TestFlags(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	parse := func(args ...string) (Conn, error) {
		t.Helper()
		var f Flags
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		f.Register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return f.Conn()
	}
	sasl := []string{"--brokers", "a:1, b:2", "--sasl-mechanism", "plain", "--sasl-user", "u"}

	t.Setenv(EnvPassword, "")
	t.Setenv(EnvPassword+"_FILE", "")
	if _, err := parse(); err == nil || !strings.Contains(err.Error(), "--brokers is required") {
		t.Errorf("no brokers: %v", err)
	}
	if _, err := parse(sasl...); err == nil || !strings.Contains(err.Error(), "no password") {
		t.Errorf("no password: %v", err)
	}
	c, err := parse(append(sasl, "--sasl-password-file", pwFile)...)
	if err != nil || c.SASLPassword != testPassword || c.SASLMechanism != PLAIN || len(c.Brokers) != 2 {
		t.Errorf("--sasl-password-file: %+v, %v", c.String(), err)
	}
	t.Setenv(EnvPassword+"_FILE", pwFile)
	if c, err := parse(sasl...); err != nil || c.SASLPassword != testPassword {
		t.Errorf("%s_FILE: %v", EnvPassword, err)
	}
	t.Setenv(EnvPassword, "from-env")
	if _, err := parse(sasl...); err == nil || !strings.Contains(err.Error(), "both set") {
		t.Errorf("both variables: %v", err)
	}
	t.Setenv(EnvPassword+"_FILE", "")
	if c, err := parse(sasl...); err != nil || c.SASLPassword != "from-env" {
		t.Errorf("%s: %v", EnvPassword, err)
	}
	// The bug this pins: a password in the environment and no mechanism
	// used to connect without SASL, silently.
	if _, err := parse("--brokers", "a:1"); err == nil || !strings.Contains(err.Error(), "--sasl-mechanism is not") {
		t.Errorf("password without mechanism: %v", err)
	}
	t.Setenv(EnvPassword, "")
	if c, err := parse("--brokers", "a:1", "--tls-ca-file", kafkatest.NewPKI(t).CAFile); err != nil || !c.tlsOn() {
		t.Errorf("--tls-ca-file turns on TLS: %v %v", c, err)
	}

	child := Conn{SASLMechanism: PLAIN, SASLUser: "u", SASLPassword: testPassword, TLS: true, TLSCAFile: "ca.pem"}
	if a := strings.Join(child.Args(), " "); a != "--sasl-mechanism PLAIN --sasl-user u --tls --tls-ca-file ca.pem" || strings.Contains(a, testPassword) {
		t.Errorf("Args: %s", a)
	}
	env := child.ChildEnv([]string{"A=1", EnvPassword + "_FILE=/x", EnvPassword + "=old"})
	if e := strings.Join(env, " "); e != "A=1 "+EnvPassword+"="+testPassword {
		t.Errorf("ChildEnv: %s", e)
	}
}
