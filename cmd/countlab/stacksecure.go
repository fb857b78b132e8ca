package main

// The stack's secured connections: up, run and plan take the same SASL/TLS
// and InfluxDB login flags as every command that talks to Kafka or
// InfluxDB (kafka.Flags, influx.Flags). With --brokers / --influx-url they
// log in to that cluster or server; without them, the SASL flags make the
// embedded broker require that user (so a user can try kcat with SASL
// against it) and --influx-user turns the managed influxd's auth on; the
// TLS flags are refused (the embedded broker serves plaintext).

import (
	"strings"

	"github.com/countlab/countlab/engine/broker"
	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/harness/stack"
)

// validateSecurity checks the login flags against the rest (exit 2 before
// anything starts).
func (f *stackFlags) validateSecurity() error {
	sec, err := f.kafka.Security()
	if err != nil {
		return usagef("%v", err)
	}
	if !f.kafka.BrokersGiven() && sec.TLS {
		return usagef("--tls and the --tls-* flags need --brokers: the embedded broker serves plaintext (give --brokers to use a TLS cluster, or drop the TLS flags; --sasl-mechanism/--sasl-user alone make the embedded broker require SASL)")
	}
	auth, err := f.influx.Auth()
	if err != nil {
		return usagef("%v", err)
	}
	if !f.influx.URLGiven() && auth.Token != "" {
		return usagef("an InfluxDB token is set (%s[_FILE] or --influx-token-file) but there is no --influx-url: the managed influxd is 1.8 (use --influx-user with a password to turn its auth on), or give --influx-url", influx.EnvToken)
	}
	return nil
}

// securityOptions are the stack options of the connection flags: the
// external cluster and InfluxDB with their logins, or the login the
// embedded broker and the managed influxd require.
func (f *stackFlags) securityOptions() ([]stack.Opt, error) {
	var opts []stack.Opt
	if f.kafka.BrokersGiven() {
		conn, err := f.kafka.conn()
		if err != nil {
			return nil, err
		}
		opts = append(opts, stack.Kafka(conn))
	} else if sec, err := f.kafka.Security(); err != nil {
		return nil, usagef("%v", err)
	} else if sec.SASLMechanism != "" {
		opts = append(opts, stack.BrokerSASL(sec.SASLMechanism, sec.SASLUser, sec.SASLPassword))
	}
	if f.influx.URLGiven() {
		ic, err := f.influx.config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, stack.Influx(ic))
	} else if auth, err := f.influx.Auth(); err != nil {
		return nil, usagef("%v", err)
	} else if auth.User != "" {
		opts = append(opts, stack.InfluxAuth(auth.User, auth.Password))
	}
	return opts, nil
}

// brokerSASL are `countlab broker`'s options from its SASL flags: the
// broker requires that user (none without the flags).
func brokerSASL(f *kafka.Flags) ([]broker.Opt, error) {
	c, err := f.Security()
	if err != nil {
		return nil, usagef("%v", err)
	}
	if c.SASLMechanism == "" {
		return nil, nil
	}
	return []broker.Opt{broker.SASL(c.SASLMechanism, c.SASLUser, c.SASLPassword)}, nil
}

// kcatHint is a kcat command line that reads the events topic through
// conn's login, for the up banner; "" without SASL or TLS (the banner's
// plain addresses do). The password stays in the environment variable.
func kcatHint(conn kafka.Conn, topic string) string {
	if conn.SASLMechanism == "" && !conn.TLS {
		return ""
	}
	proto := "SASL_PLAINTEXT"
	switch {
	case conn.TLS && conn.SASLMechanism != "":
		proto = "SASL_SSL"
	case conn.TLS:
		proto = "SSL"
	}
	s := "  kcat -b " + strings.Join(conn.Brokers, ",") + " -X security.protocol=" + proto
	if conn.SASLMechanism != "" {
		s += " -X sasl.mechanisms=" + conn.SASLMechanism + " -X sasl.username=" + conn.SASLUser +
			` -X sasl.password="$` + kafka.EnvPassword + `"`
	}
	if conn.TLSCAFile != "" {
		s += " -X ssl.ca.location=" + conn.TLSCAFile
	}
	if conn.TLSCertFile != "" {
		s += " -X ssl.certificate.location=" + conn.TLSCertFile + " -X ssl.key.location=" + conn.TLSKeyFile
	}
	return s + " -C -t " + topic + " -o beginning -e\n"
}
