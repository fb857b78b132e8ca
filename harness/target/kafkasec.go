package target

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/countlab/countlab/engine/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaSecurity is a Kafka connection's SASL login and TLS, as the
// commands' --sasl-* and --tls* flags give them (README: Connecting to a
// secured cluster). The password comes only from the environment or a
// file, never from the target file, and is never logged.
type KafkaSecurity struct {
	// SASLMechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (optional:
	// no login without it).
	SASLMechanism string `yaml:"sasl_mechanism,omitempty"`
	// SASLUser is the SASL user (required with sasl_mechanism).
	SASLUser string `yaml:"sasl_user,omitempty"`
	// SASLPasswordEnv names the environment variable holding the password
	// (one of it and sasl_password_file with sasl_mechanism).
	SASLPasswordEnv string `yaml:"sasl_password_env,omitempty"`
	// SASLPasswordFile is a file holding the password (trailing newline
	// trimmed; relative to the target file).
	SASLPasswordFile string `yaml:"sasl_password_file,omitempty"`
	// TLS turns TLS on with the system roots (the file fields below turn
	// it on too).
	TLS bool `yaml:"tls,omitempty"`
	// TLSCAFile is a PEM file of the CAs that sign the brokers'
	// certificates (relative to the target file).
	TLSCAFile string `yaml:"tls_ca_file,omitempty"`
	// TLSCertFile and TLSKeyFile are the client certificate and its key
	// (PEM, both or neither; relative to the target file).
	TLSCertFile string `yaml:"tls_cert_file,omitempty"`
	TLSKeyFile  string `yaml:"tls_key_file,omitempty"`
}

// kafkaSecurity checks k's fields (nil: nothing to check).
func (e *errs) kafkaSecurity(path string, k *KafkaSecurity) {
	if k == nil {
		return
	}
	switch strings.ToUpper(k.SASLMechanism) {
	case "":
		if k.SASLUser != "" || k.SASLPasswordEnv != "" || k.SASLPasswordFile != "" {
			e.add(path+".sasl_mechanism", "missing with a SASL user or password", "write PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if k.SASLUser == "" {
			e.add(path+".sasl_user", "missing with sasl_mechanism", "give the SASL user name")
		}
		if (k.SASLPasswordEnv == "") == (k.SASLPasswordFile == "") {
			e.add(path+".sasl_password_env", "want exactly one of sasl_password_env and sasl_password_file", "name the variable or the file that holds the password")
		}
	default:
		e.add(path+".sasl_mechanism", fmt.Sprintf("unknown mechanism %q", k.SASLMechanism), "write PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	}
	if (k.TLSCertFile == "") != (k.TLSKeyFile == "") {
		e.add(path+".tls_key_file", "a client certificate needs its key (and a key its certificate)", "give both tls_cert_file and tls_key_file, or neither")
	}
}

// opts are the franz-go options of k for brokers (nil k: none); field
// names k in errors. Files are relative to dir.
func (k *KafkaSecurity) opts(dir string, brokers []string, field string) ([]kgo.Opt, error) {
	if k == nil {
		return nil, nil
	}
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c := kafka.Conn{Brokers: brokers, SASLMechanism: strings.ToUpper(k.SASLMechanism), SASLUser: k.SASLUser,
		TLS: k.TLS || k.TLSCAFile != "" || k.TLSCertFile != "", TLSCAFile: rel(k.TLSCAFile),
		TLSCertFile: rel(k.TLSCertFile), TLSKeyFile: rel(k.TLSKeyFile)}
	if c.SASLMechanism != "" {
		var err error
		if c.SASLPassword, err = secret(k.SASLPasswordEnv, k.SASLPasswordFile, dir, field+".sasl_password"); err != nil {
			return nil, err
		}
	}
	opts, err := c.Opts()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return opts, nil
}
