package target

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/countlab/countlab/engine/kafka/kafkatest"
	"github.com/countlab/countlab/sim"
)

// TestKafkaSecurity sends through a target file's Kafka ingest to a real
// kfake broker that requires SCRAM-SHA-256: the events are acknowledged
// with the password from the environment or from a file, and a wrong
// password is an error naming the field, never the password.
func TestKafkaSecurity(t *testing.T) {
	const pass = "s3cret-Pa55"
	c, err := kfake.NewCluster(append(kafkatest.SASL("SCRAM-SHA-256", "countlab", pass), kfake.NumBrokers(1), kfake.SeedTopics(2, "events"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kafka.pass"), []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TARGET_KAFKA_PASS", pass)
	t.Setenv("TARGET_KAFKA_WRONG", "Xq9-nope")
	send := func(sec *KafkaSecurity) error {
		s := Spec{Name: "k", Ingest: Ingest{Kafka: &KafkaIngest{Brokers: c.ListenAddrs(), Topic: "events", Security: sec}},
			Read: Read{QueryAPI: &QueryAPI{URL: "http://127.0.0.1:1"}}, Semantics: Semantics{Windows: []time.Duration{10 * time.Second}}}
		s.applyDefaults()
		if err := s.Validate(); err != nil {
			t.Fatalf("spec: %v", err)
		}
		tg := New(s, dir)
		defer tg.Close()
		tr, err := tg.Transport(1)
		if err != nil {
			return err
		}
		_, items := truthOf(t, 10, []string{"a"})
		out := make([]sim.Outcome, len(items))
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := tr.Send(ctx, items, out); err != nil {
			return err
		}
		for i, o := range out {
			if o != sim.Acked {
				return fmt.Errorf("event %d: outcome %v, not acknowledged", i, o)
			}
		}
		return nil
	}
	for _, sec := range []*KafkaSecurity{
		{SASLMechanism: "SCRAM-SHA-256", SASLUser: "countlab", SASLPasswordEnv: "TARGET_KAFKA_PASS"},
		{SASLMechanism: "scram-sha-256", SASLUser: "countlab", SASLPasswordFile: "kafka.pass"},
	} {
		if err := send(sec); err != nil {
			t.Errorf("%+v: %v", *sec, err)
		}
	}
	err = send(&KafkaSecurity{SASLMechanism: "SCRAM-SHA-256", SASLUser: "countlab", SASLPasswordEnv: "TARGET_KAFKA_WRONG"})
	if err == nil {
		t.Fatal("a wrong password: acknowledged")
	}
	if strings.Contains(err.Error(), "Xq9-nope") || strings.Contains(err.Error(), pass) {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestKafkaSecurityValidate: bad security blocks are refused naming the
// field and the fix.
func TestKafkaSecurityValidate(t *testing.T) {
	for _, tc := range []struct {
		sec  KafkaSecurity
		want string
	}{
		{KafkaSecurity{SASLMechanism: "GSSAPI", SASLUser: "u", SASLPasswordEnv: "X"}, "ingest.kafka.security.sasl_mechanism"},
		{KafkaSecurity{SASLMechanism: "PLAIN", SASLPasswordEnv: "X"}, "ingest.kafka.security.sasl_user"},
		{KafkaSecurity{SASLMechanism: "PLAIN", SASLUser: "u"}, "ingest.kafka.security.sasl_password_env"},
		{KafkaSecurity{SASLUser: "u"}, "ingest.kafka.security.sasl_mechanism"},
		{KafkaSecurity{TLSCertFile: "c.pem"}, "ingest.kafka.security.tls_key_file"},
	} {
		sec := tc.sec
		s := Spec{Name: "k", Ingest: Ingest{Kafka: &KafkaIngest{Brokers: []string{"127.0.0.1:9092"}, Topic: "events", Security: &sec}},
			Read: Read{QueryAPI: &QueryAPI{URL: "http://127.0.0.1:1"}}, Semantics: Semantics{Windows: []time.Duration{10 * time.Second}}}
		s.applyDefaults()
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.sec, err, tc.want)
		}
	}
}
