package stack

import (
	"strings"
	"testing"

	"github.com/countlab/countlab/engine/kafka"
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
