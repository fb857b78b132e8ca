// Package kafka holds countlab's Kafka conventions: the topic names, how the
// topics are created, how dead-letter records look, and the client options
// for reaching a cluster (broker addresses, SASL, TLS). franz-go is the only
// Kafka client; this package only assembles its options.
package kafka

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Conn says how to reach a Kafka cluster.
type Conn struct {
	// Brokers are seed broker addresses, host:port.
	Brokers []string
	// SASLMechanism is "", "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	SASLMechanism string
	// SASLUser is the SASL user name.
	SASLUser string
	// SASLPassword is the SASL password. It comes from the environment
	// (COUNTLAB_KAFKA_PASSWORD) or a file, never from a flag, and is never
	// logged: String omits it.
	SASLPassword string
	// TLS turns on TLS with the system roots.
	TLS bool
	// BrokerMap reroutes dials: a client of c dials BrokerMap[addr]
	// instead of the broker address addr (a seed, or one the cluster
	// advertises in its metadata), e.g. a proxy in front of that broker
	// for network faults. Addresses not in the map are dialed as they are.
	// With TLS, the broker's own host name is still the server name.
	BrokerMap map[string]string
}

// ConnFromEnv fills the secret parts of c from the environment:
// COUNTLAB_KAFKA_PASSWORD, or COUNTLAB_KAFKA_PASSWORD_FILE naming a file.
func (c *Conn) ConnFromEnv() error {
	if p := os.Getenv("COUNTLAB_KAFKA_PASSWORD"); p != "" {
		c.SASLPassword = p
		return nil
	}
	if f := os.Getenv("COUNTLAB_KAFKA_PASSWORD_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("COUNTLAB_KAFKA_PASSWORD_FILE: %w", err)
		}
		c.SASLPassword = strings.TrimSpace(string(b))
	}
	return nil
}

// String describes c without its secret.
func (c Conn) String() string {
	s := strings.Join(c.Brokers, ",")
	if c.SASLMechanism != "" {
		s += " sasl=" + c.SASLMechanism + " user=" + c.SASLUser
	}
	if c.TLS {
		s += " tls"
	}
	if len(c.BrokerMap) > 0 {
		s += fmt.Sprintf(" via %d proxies", len(c.BrokerMap))
	}
	return s
}

// Opts are the franz-go client options for c.
func (c Conn) Opts() ([]kgo.Opt, error) {
	if len(c.Brokers) == 0 {
		return nil, errors.New("kafka: no broker addresses (give --brokers host:port[,...])")
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if len(c.BrokerMap) > 0 {
		// The dialer does TLS itself: kgo takes a Dialer or a TLS config.
		opts = append(opts, kgo.Dialer(c.dialer()))
	} else if c.TLS {
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	var m sasl.Mechanism
	switch strings.ToUpper(c.SASLMechanism) {
	case "":
	case "PLAIN":
		m = plain.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsMechanism()
	case "SCRAM-SHA-256":
		m = scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		m = scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha512Mechanism()
	default:
		return nil, fmt.Errorf("kafka: unknown SASL mechanism %q (use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", c.SASLMechanism)
	}
	if m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
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
