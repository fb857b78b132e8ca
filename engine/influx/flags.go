package influx

import (
	"flag"
	"fmt"

	"github.com/countlab/countlab/engine/secret"
)

// The environment variables of the InfluxDB secrets; NAME_FILE names a
// file holding the secret instead.
const (
	EnvToken    = "COUNTLAB_INFLUX_TOKEN"
	EnvPassword = "COUNTLAB_INFLUX_PASSWORD"
)

const (
	tokenSources    = EnvToken + ", " + EnvToken + "_FILE or --influx-token-file"
	passwordSources = EnvPassword + ", " + EnvPassword + "_FILE or --influx-password-file"
)

// Flags are the InfluxDB connection flags and environment variables: the
// one definition every countlab command that talks to InfluxDB registers.
//
//	--influx-url URL              server base URL
//	--influx-org ORG              organization (2.x; ignored by 1.8)
//	--influx-bucket B             bucket (db/rp on 1.8)
//	--influx-token-file PATH      file holding a 2.x API token
//	--influx-user NAME            1.x user (auth-enabled servers)
//	--influx-password-file PATH   file holding the 1.x user's password
//	COUNTLAB_INFLUX_TOKEN[_FILE]     the 2.x token
//	COUNTLAB_INFLUX_PASSWORD[_FILE]  the 1.x password
//
// Secrets are never a flag's value; a --*-file flag wins over the
// environment, and setting both NAME and NAME_FILE is an error.
type Flags struct {
	url, org, bucket, user, tokenFile, passwordFile string
}

// Register adds the flags to fs. A command where --influx-url is optional
// changes its help text with fs.Lookup("influx-url").Usage.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "influx-url", "", "InfluxDB base URL (required; token from "+EnvToken+"[_FILE])")
	fs.StringVar(&f.org, "influx-org", "countlab", "InfluxDB organization (ignored by InfluxDB 1.8)")
	fs.StringVar(&f.bucket, "influx-bucket", "countlab/autogen", "InfluxDB bucket (db/rp on InfluxDB 1.8)")
	f.RegisterAuth(fs)
}

// RegisterAuth adds the login flags to fs (--influx-token-file,
// --influx-user, --influx-password-file), not the server's: for a command
// that defines those its own way (the stack); Auth reads them.
func (f *Flags) RegisterAuth(fs *flag.FlagSet) {
	fs.StringVar(&f.tokenFile, "influx-token-file", "", "file holding the InfluxDB 2.x API token (instead of "+EnvToken+")")
	fs.StringVar(&f.user, "influx-user", "", "InfluxDB 1.x user, for a server with auth on (password from "+EnvPassword+"[_FILE] or --influx-password-file)")
	fs.StringVar(&f.passwordFile, "influx-password-file", "", "file holding the InfluxDB 1.x user's password (instead of "+EnvPassword+")")
}

// URL is the --influx-url value as given.
func (f *Flags) URL() string { return f.url }

// URLGiven reports whether --influx-url is set.
func (f *Flags) URLGiven() bool { return f.url != "" }

// Config is the server the flags and the environment describe, checked
// with Config.Validate (so --influx-url is required).
func (f *Flags) Config() (Config, error) {
	c, err := f.Auth()
	if err != nil {
		return Config{}, err
	}
	c.URL, c.Org, c.Bucket = f.url, f.org, f.bucket
	return c, c.Validate()
}

// Auth is the login part of the configuration the flags and the
// environment describe (Token, or User and Password), checked as Validate
// would.
func (f *Flags) Auth() (Config, error) {
	c := Config{User: f.user}
	var err error
	if c.Token, err = read(f.tokenFile, "--influx-token-file", EnvToken); err != nil {
		return Config{}, err
	}
	if c.Password, err = read(f.passwordFile, "--influx-password-file", EnvPassword); err != nil {
		return Config{}, err
	}
	v := c
	v.URL, v.Bucket = "http://-", "-"
	return c, v.Validate()
}

// read is secret.Read with the package's prefix on its error.
func read(file, flag, env string) (string, error) {
	s, err := secret.Read(file, flag, env)
	if err != nil {
		return "", fmt.Errorf("influx: %w", err)
	}
	return s, nil
}
