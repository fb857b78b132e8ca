package main

// The stack's secured connections: up, run, plan and selfcheck take the
// same SASL/TLS and InfluxDB login flags as every command that talks to
// Kafka or InfluxDB (kafka.Flags.RegisterSecurity,
// influx.Flags.RegisterAuth). With --brokers they log in to that cluster;
// without it, the SASL flags make the embedded broker require that user
// (so a user can try kcat with SASL against it), and the TLS flags are
// refused (the embedded broker serves plaintext).

import (
	"flag"
	"strings"

	"github.com/countlab/countlab/engine/broker"
	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
)

// stackSecurity are the stack's login flags.
type stackSecurity struct {
	kafka  kafka.Flags
	influx influx.Flags
}

func (s *stackSecurity) register(fs *flag.FlagSet) {
	s.kafka.RegisterSecurity(fs)
	s.influx.RegisterAuth(fs)
}

// validateSecurity checks the login flags against the rest (exit 2 before
// anything starts).
func (f *stackFlags) validateSecurity() error {
	sec, err := f.sec.kafka.Security()
	if err != nil {
		return usagef("%v", err)
	}
	if f.brokers == "" && sec.TLS {
		return usagef("--tls and the --tls-* flags need --brokers: the embedded broker serves plaintext (give --brokers to use a TLS cluster, or drop the TLS flags; --sasl-mechanism/--sasl-user alone make the embedded broker require SASL)")
	}
	auth, err := f.sec.influx.Auth()
	if err != nil {
		return usagef("%v", err)
	}
	if f.influxURL == "" && auth.Token != "" {
		return usagef("an InfluxDB token is set (%s[_FILE] or --influx-token-file) but there is no --influx-url: the managed influxd is 1.8 (use --influx-user with a password to turn its auth on), or give --influx-url", influx.EnvToken)
	}
	return nil
}

// externalConn is the connection to the cluster --brokers names, with the
// login flags.
func (f *stackFlags) externalConn() (kafka.Conn, error) {
	c, err := f.sec.kafka.Security()
	if err != nil {
		return kafka.Conn{}, usagef("%v", err)
	}
	c.Brokers = kafka.ParseBrokers(f.brokers)
	if err := c.Validate(); err != nil {
		return kafka.Conn{}, usagef("%v", err)
	}
	return c, nil
}

// brokerOpts are the embedded broker's options from the SASL flags: none
// without them.
func (f *stackFlags) brokerOpts() ([]broker.Opt, error) { return brokerSASL(&f.sec.kafka) }

// externalInflux is the InfluxDB --influx-url names, with the login flags.
func (f *stackFlags) externalInflux() (influx.Config, error) {
	c, err := f.sec.influx.Auth()
	if err != nil {
		return influx.Config{}, usagef("%v", err)
	}
	c.URL, c.Org, c.Bucket = f.influxURL, f.influxOrg, f.influxBucket
	if err := c.Validate(); err != nil {
		return influx.Config{}, usagef("%v", err)
	}
	return c, nil
}

// managedInfluxAuth are the managed influxd's options from the login
// flags: auth on with that user when --influx-user is given.
func (f *stackFlags) managedInfluxAuth() (user, password string, err error) {
	c, err := f.sec.influx.Auth()
	if err != nil {
		return "", "", usagef("%v", err)
	}
	return c.User, c.Password, nil
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
