package kafka

import (
	"errors"
	"flag"
	"strings"
)

// Flags are the Kafka connection flags and environment variables: the one
// definition every countlab command that talks to Kafka registers, so each
// connects to a secured cluster the same way.
//
//	--brokers host:port[,...]     seed brokers
//	--sasl-mechanism M            PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
//	--sasl-user NAME              SASL user
//	--sasl-password-file PATH     file holding the SASL password
//	--tls                         TLS, brokers verified against the system roots
//	--tls-ca-file PATH            TLS, brokers verified against these CAs (PEM)
//	--tls-cert-file PATH          TLS client certificate (PEM), with --tls-key-file
//	--tls-key-file PATH           its private key (PEM)
//	COUNTLAB_KAFKA_PASSWORD       the SASL password
//	COUNTLAB_KAFKA_PASSWORD_FILE  a file holding it
//
// The password is never a flag's value (a command line is public on the
// machine); --sasl-password-file wins over the environment, and setting
// both variables is an error.
type Flags struct {
	brokers, mechanism, user, passwordFile string
	caFile, certFile, keyFile              string
	tls                                    bool
}

// Register adds the connection flags to fs. A command where --brokers is
// optional changes its help text with fs.Lookup("brokers").Usage.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.brokers, "brokers", "", "Kafka seed brokers, host:port[,...] (required)")
	f.RegisterSecurity(fs)
}

// RegisterSecurity adds the SASL and TLS flags to fs, not --brokers: for a
// command that defines --brokers its own way (the stack, where no
// --brokers means the embedded broker); Security reads them.
func (f *Flags) RegisterSecurity(fs *flag.FlagSet) {
	f.RegisterSASL(fs)
	fs.BoolVar(&f.tls, "tls", false, "connect to Kafka with TLS, brokers verified against the system roots (or --tls-ca-file)")
	fs.StringVar(&f.caFile, "tls-ca-file", "", "PEM file of the CA certificates that sign the Kafka brokers' (turns on TLS)")
	fs.StringVar(&f.certFile, "tls-cert-file", "", "PEM client certificate for Kafka (mTLS; with --tls-key-file; turns on TLS)")
	fs.StringVar(&f.keyFile, "tls-key-file", "", "PEM private key of --tls-cert-file")
}

// RegisterSASL adds only the SASL flags to fs: for the embedded broker,
// which requires that user when given them.
func (f *Flags) RegisterSASL(fs *flag.FlagSet) {
	fs.StringVar(&f.mechanism, "sasl-mechanism", "", "Kafka SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (password from "+EnvPassword+"[_FILE] or --sasl-password-file)")
	fs.StringVar(&f.user, "sasl-user", "", "Kafka SASL user (with --sasl-mechanism)")
	fs.StringVar(&f.passwordFile, "sasl-password-file", "", "file holding the Kafka SASL password (instead of "+EnvPassword+")")
}

// Brokers is the --brokers value as given.
func (f *Flags) Brokers() string { return f.brokers }

// BrokersGiven reports whether --brokers names at least one broker.
func (f *Flags) BrokersGiven() bool { return len(ParseBrokers(f.brokers)) > 0 }

// TLSGiven reports whether any TLS flag is set.
func (f *Flags) TLSGiven() bool {
	return f.tls || f.caFile != "" || f.certFile != "" || f.keyFile != ""
}

// Conn is the connection the flags and the environment describe, checked
// with Conn.Validate: --brokers is required, and every bad combination is
// an error naming the flag and the fix.
func (f *Flags) Conn() (Conn, error) {
	c, err := f.Security()
	if err != nil {
		return Conn{}, err
	}
	if c.Brokers = ParseBrokers(f.brokers); len(c.Brokers) == 0 {
		return Conn{}, errors.New("--brokers is required: give the Kafka seed brokers, e.g. --brokers 127.0.0.1:9092 (countlab up and countlab broker print theirs)")
	}
	return c, c.Validate()
}

// Security is the SASL and TLS part of the connection the flags and the
// environment describe (no Brokers), checked as Conn.Validate would.
func (f *Flags) Security() (Conn, error) {
	c := Conn{SASLMechanism: strings.ToUpper(f.mechanism), SASLUser: f.user,
		TLS: f.TLSGiven(), TLSCAFile: f.caFile, TLSCertFile: f.certFile, TLSKeyFile: f.keyFile}
	p, err := readPassword(f.passwordFile)
	if err != nil {
		return Conn{}, err
	}
	c.SASLPassword = p
	v := c
	v.Brokers = []string{"-"}
	return c, v.Validate()
}

// Args are the flags that give a child countlab process the connection c
// (Register's flags): the SASL and TLS settings and no password, which
// ChildEnv passes. Brokers and BrokerMap are the caller's to add.
func (c Conn) Args() []string {
	var a []string
	add := func(name, v string) {
		if v != "" {
			a = append(a, "--"+name, v)
		}
	}
	add("sasl-mechanism", c.SASLMechanism)
	add("sasl-user", c.SASLUser)
	if c.TLS {
		a = append(a, "--tls")
	}
	add("tls-ca-file", c.TLSCAFile)
	add("tls-cert-file", c.TLSCertFile)
	add("tls-key-file", c.TLSKeyFile)
	return a
}

// ChildEnv is the environment of a child countlab process given c by Args:
// base without the password variables, plus COUNTLAB_KAFKA_PASSWORD when c
// has a password. The password goes through the environment, which only
// the process's own user can read, never through the command line.
func (c Conn) ChildEnv(base []string) []string {
	env := make([]string, 0, len(base)+1)
	for _, kv := range base {
		if !strings.HasPrefix(kv, EnvPassword+"=") && !strings.HasPrefix(kv, EnvPassword+"_FILE=") {
			env = append(env, kv)
		}
	}
	if c.SASLPassword != "" {
		env = append(env, EnvPassword+"="+c.SASLPassword)
	}
	return env
}
