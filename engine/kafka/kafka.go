// Package kafka holds countlab's Kafka conventions: the topic names, how the
// topics are created, how dead-letter records look, and the client options
// for reaching a cluster (broker addresses, SASL, TLS). franz-go is the only
// Kafka client; this package only assembles its options.
package kafka

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Conn says how to reach a Kafka cluster. Flags (flags.go) fills one from
// the command line and the environment; each field names its flag.
type Conn struct {
	// Brokers are seed broker addresses, host:port (--brokers).
	Brokers []string
	// SASLMechanism is "", "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512"
	// (--sasl-mechanism; case does not matter).
	SASLMechanism string
	// SASLUser is the SASL user name (--sasl-user).
	SASLUser string
	// SASLPassword is the SASL password. It comes from the environment
	// (COUNTLAB_KAFKA_PASSWORD) or a file (COUNTLAB_KAFKA_PASSWORD_FILE,
	// --sasl-password-file), never from a flag's value, and is never
	// logged: String omits it.
	SASLPassword string
	// TLS turns on TLS (--tls), verifying the brokers against the system
	// roots unless TLSCAFile names others. TLSCAFile or TLSCertFile turn
	// it on too.
	TLS bool
	// TLSCAFile is a PEM file of the CA certificates that sign the
	// brokers' certificates (--tls-ca-file), instead of the system roots.
	TLSCAFile string
	// TLSCertFile and TLSKeyFile are the PEM client certificate and its
	// private key (--tls-cert-file, --tls-key-file), for brokers that
	// authenticate clients by certificate (mTLS). Both or neither.
	TLSCertFile, TLSKeyFile string
	// BrokerMap reroutes dials: a client of c dials BrokerMap[addr]
	// instead of the broker address addr (a seed, or one the cluster
	// advertises in its metadata), e.g. a proxy in front of that broker
	// for network faults. Addresses not in the map are dialed as they are.
	// With TLS, the broker's own host name is still the server name.
	BrokerMap map[string]string
}

// ConnFromEnv fills the secret parts of c from the environment:
// COUNTLAB_KAFKA_PASSWORD, or COUNTLAB_KAFKA_PASSWORD_FILE naming a file.
// Setting both is an error.
func (c *Conn) ConnFromEnv() error {
	p, err := readPassword("")
	if err != nil {
		return err
	}
	if p != "" {
		c.SASLPassword = p
	}
	return nil
}

// String describes c without its secret.
func (c Conn) String() string {
	s := strings.Join(c.Brokers, ",")
	if c.SASLMechanism != "" {
		s += " sasl=" + strings.ToUpper(c.SASLMechanism) + " user=" + c.SASLUser
	}
	if c.tlsOn() {
		s += " tls"
		if c.TLSCAFile != "" {
			s += " ca=" + c.TLSCAFile
		}
		if c.TLSCertFile != "" {
			s += " cert=" + c.TLSCertFile
		}
	}
	if len(c.BrokerMap) > 0 {
		s += fmt.Sprintf(" via %d proxies", len(c.BrokerMap))
	}
	return s
}

// Opts are the franz-go client options for c. A c that does not Validate
// is an error.
func (c Conn) Opts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	var tc *tls.Config
	if c.tlsOn() {
		var err error
		if tc, err = c.tlsConfig(); err != nil {
			return nil, err
		}
	}
	if len(c.BrokerMap) > 0 {
		// The dialer does TLS itself: kgo takes a Dialer or a TLS config.
		opts = append(opts, kgo.Dialer(c.dialer(tc)))
	} else if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if m := c.mechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// mechanism is c's SASL mechanism, nil without one (c is valid).
func (c Conn) mechanism() sasl.Mechanism {
	switch strings.ToUpper(c.SASLMechanism) {
	case PLAIN:
		return plain.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsMechanism()
	case ScramSHA256:
		return scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha256Mechanism()
	case ScramSHA512:
		return scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha512Mechanism()
	}
	return nil
}

// NewClient is a franz-go client for c with extra options after c's
// (Opts); errors are c's or the client's configuration errors.
func (c Conn) NewClient(extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.Opts()
	if err != nil {
		return nil, err
	}
	return kgo.NewClient(append(opts, extra...)...)
}

// ParseBrokers splits a comma-separated broker list, dropping blanks.
func ParseBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}
