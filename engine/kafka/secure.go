package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/secret"
)

// The SASL mechanisms a Conn speaks.
const (
	PLAIN       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// EnvPassword is the environment variable of the SASL password;
// EnvPassword+"_FILE" names a file holding it instead.
const EnvPassword = "COUNTLAB_KAFKA_PASSWORD"

// passwordSources is where a SASL password may come from, for errors.
const passwordSources = EnvPassword + ", " + EnvPassword + "_FILE or --sasl-password-file"

// Validate checks that c is a connection a client can be built from, and
// fails fast on the combinations that would only fail at the first dial (or
// not at all, and connect without what the user asked for): a SASL
// mechanism without a user or a password, a user or password without a
// mechanism, an unknown mechanism, a client certificate without its key,
// and a CA file or key pair that does not load. Errors name the flag and
// the fix; none contains the password.
func (c Conn) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("kafka: no broker addresses (give --brokers host:port[,...])")
	}
	if err := c.validateSASL(); err != nil {
		return err
	}
	if !c.tlsOn() {
		return nil
	}
	_, err := c.tlsConfig()
	return err
}

func (c Conn) validateSASL() error {
	m := strings.ToUpper(c.SASLMechanism)
	switch {
	case m == "" && c.SASLUser != "":
		return fmt.Errorf("kafka: --sasl-user %q without --sasl-mechanism: add --sasl-mechanism %s, %s or %s", c.SASLUser, PLAIN, ScramSHA256, ScramSHA512)
	case m == "" && c.SASLPassword != "":
		return fmt.Errorf("kafka: a SASL password is set (%s) but --sasl-mechanism is not: add --sasl-mechanism and --sasl-user, or unset the password", passwordSources)
	case m == "":
		return nil
	case m != PLAIN && m != ScramSHA256 && m != ScramSHA512:
		return fmt.Errorf("kafka: --sasl-mechanism %q is not one countlab speaks: use %s, %s or %s", c.SASLMechanism, PLAIN, ScramSHA256, ScramSHA512)
	case c.SASLUser == "":
		return fmt.Errorf("kafka: --sasl-mechanism %s needs --sasl-user NAME (and the password in %s)", m, passwordSources)
	case c.SASLPassword == "":
		return fmt.Errorf("kafka: --sasl-mechanism %s for user %q has no password: set %s", m, c.SASLUser, passwordSources)
	}
	return nil
}

// tlsOn reports whether c dials with TLS.
func (c Conn) tlsOn() bool {
	return c.TLS || c.TLSCAFile != "" || c.TLSCertFile != "" || c.TLSKeyFile != ""
}

// tlsConfig is c's client TLS configuration, the files read now.
func (c Conn) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: --tls-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka: --tls-ca-file %s: no PEM certificate in it (want the CA certificates as PEM blocks, -----BEGIN CERTIFICATE-----)", c.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	switch {
	case c.TLSCertFile == "" && c.TLSKeyFile == "":
	case c.TLSCertFile == "":
		return nil, errors.New("kafka: --tls-key-file without --tls-cert-file: give the client certificate too, or neither")
	case c.TLSKeyFile == "":
		return nil, errors.New("kafka: --tls-cert-file without --tls-key-file: give the client certificate's private key too, or neither")
	default:
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: --tls-cert-file %s / --tls-key-file %s: %w (want a PEM certificate and its PEM private key)", c.TLSCertFile, c.TLSKeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// readPassword is the SASL password from --sasl-password-file (file, when
// not "") or else the environment.
func readPassword(file string) (string, error) {
	p, err := secret.Read(file, "--sasl-password-file", EnvPassword)
	if err != nil {
		return "", fmt.Errorf("kafka: %w", err)
	}
	return p, nil
}

// Ping checks that c reaches the cluster and is let in: one metadata round
// trip within ctx. Its error says which part failed and what to check: a
// refused SASL login (a broker that closes the connection on a wrong
// password, as kfake does, or answers SASL_AUTHENTICATION_FAILED, as
// Kafka does), a TLS handshake or certificate, or the brokers themselves.
func (c Conn) Ping(ctx context.Context) error {
	cl, err := c.NewClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		return c.explain(err)
	}
	return nil
}

// ErrRefused is wrapped by Ping's errors when the cluster answered but did
// not let the client in (SASL login, TLS handshake or certificate): a
// configuration error, unlike brokers that do not answer (yet).
var ErrRefused = errors.New("kafka: refused the client")

// refused is a Ping error that wraps ErrRefused and the client's error.
type refused struct {
	msg string
	err error
}

func (e *refused) Error() string   { return e.msg }
func (e *refused) Unwrap() []error { return []error{ErrRefused, e.err} }

// explain adds to a failed dial or request of c's what to check.
func (c Conn) explain(err error) error {
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var firstEOF *kgo.ErrFirstReadEOF
	brokers := strings.Join(c.Brokers, ",")
	var msg string
	switch {
	case errors.As(err, &certErr) || strings.Contains(err.Error(), "remote error: tls:"):
		msg = fmt.Sprintf("kafka: TLS with %s failed: %v (check --tls-ca-file names the CA that signed the brokers' certificates, and --tls-cert-file/--tls-key-file if the brokers require a client certificate)", brokers, err)
	case errors.As(err, &recordErr):
		msg = fmt.Sprintf("kafka: %s does not speak TLS: %v (drop --tls and the --tls-* flags, or use the brokers' TLS listener)", brokers, err)
	case errors.As(err, &firstEOF):
		// kgo's guess names TLS and SASL: say which flags those are.
		msg = fmt.Sprintf("kafka: %s: %v (a broker that requires TLS or SASL does that: check --tls/--tls-ca-file and --sasl-mechanism/--sasl-user)", brokers, err)
	case c.SASLMechanism != "" && (errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
		msg = fmt.Sprintf("kafka: SASL %s login as %q to %s refused: %v (check --sasl-user and the password in %s; the mechanism must be one the user has credentials for)", strings.ToUpper(c.SASLMechanism), c.SASLUser, brokers, err, passwordSources)
	default:
		return fmt.Errorf("kafka: %s: %w (check --brokers)", brokers, err)
	}
	return &refused{msg: msg, err: err}
}
