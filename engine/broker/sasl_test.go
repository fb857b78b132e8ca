package broker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/kafka"
)

// TestSASL starts the broker with SASL on and a data dir: it creates its
// topics logged in as the user (so New returns), serves a client of its
// Conn, refuses one without SASL or with a wrong password, and after a
// restart on the same data dir still requires the login and keeps the
// records.
func TestSASL(t *testing.T) {
	dir := t.TempDir()
	const pass = "broker-pa55"
	start := func() *Broker {
		b, err := New(DataDir(dir), SASL("scram-sha-256", "alice", pass))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := start()
	conn := b.Conn()
	if conn.SASLMechanism != kafka.ScramSHA256 || conn.SASLUser != "alice" || conn.SASLPassword != pass {
		t.Fatalf("Conn() = %s", conn)
	}
	cl, err := conn.NewClient(kgo.DefaultProduceTopic(b.Topics().Events))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce logged in: %v", err)
	}
	cl.Close()
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	defer pcancel()
	if err := (kafka.Conn{Brokers: b.Addrs()}).Ping(pctx); err == nil {
		t.Error("served a client without SASL")
	}
	bad := conn
	bad.SASLPassword = "nope"
	if err := bad.Ping(pctx); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("wrong password: %v", err)
	}
	b.Close()

	b = start()
	defer b.Close()
	if err := (kafka.Conn{Brokers: b.Addrs()}).Ping(pctx); err == nil {
		t.Error("after a restart: served a client without SASL")
	}
	cl, err = b.Conn().NewClient(kgo.ConsumeTopics(b.Topics().Events), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fs := cl.PollFetches(ctx)
	if fs.Err0() != nil || fs.NumRecords() != 1 {
		t.Errorf("after a restart: %d records, %v", fs.NumRecords(), fs.Err0())
	}

	if _, err := New(SASL("PLAIN", "", pass)); err == nil || !strings.Contains(err.Error(), "--sasl-user") {
		t.Errorf("SASL without a user: %v", err)
	}
}
