package influx

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlags parses the InfluxDB flags and the secrets' sources, and pins
// the combinations that fail fast; no error or String shows a secret.
func TestFlags(t *testing.T) {
	const secretVal = "tok-never-logged"
	file := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(file, []byte(secretVal+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{EnvToken, EnvToken + "_FILE", EnvPassword, EnvPassword + "_FILE"} {
		t.Setenv(e, "")
	}
	f := func(want string, args ...string) Config {
		t.Helper()
		var fl Flags
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fl.Register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		c, err := fl.Config()
		switch {
		case want == "" && err != nil:
			t.Errorf("%v: %v", args, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%v: got %v, want an error with %q", args, err, want)
		case err != nil && strings.Contains(err.Error(), secretVal):
			t.Errorf("the error shows the secret: %v", err)
		}
		if strings.Contains(c.String(), secretVal) {
			t.Errorf("String shows the secret: %s", c)
		}
		return c
	}
	u := "--influx-url=http://127.0.0.1:8086"
	if c := f("", u); c.Credential() != "" || c.Bucket != "countlab/autogen" {
		t.Errorf("no auth: %+v", c)
	}
	f("--influx-url", "--influx-bucket=x")
	f("not an http:// or https:// URL", "--influx-url=127.0.0.1:8086")
	if c := f("", u, "--influx-token-file", file); c.Credential() != secretVal {
		t.Errorf("--influx-token-file: credential %q", c.Credential())
	}
	if c := f("", u, "--influx-user", "admin", "--influx-password-file", file); c.Credential() != "admin:"+secretVal {
		t.Errorf("1.x user: credential %q", c.Credential())
	}
	f("has no password", u, "--influx-user", "admin")
	f(`contains ':'`, u, "--influx-user", "a:b", "--influx-password-file", file)
	f("--influx-token-file: open", u, "--influx-token-file", file+".missing")
	t.Setenv(EnvToken, secretVal)
	if c := f("", u); c.Token != secretVal || !strings.Contains(c.String(), "token=(set)") {
		t.Errorf("%s: %s", EnvToken, c)
	}
	f("both a token", u, "--influx-user", "admin", "--influx-password-file", file)
	t.Setenv(EnvToken+"_FILE", file)
	f("both set", u)
	t.Setenv(EnvToken, "")
	t.Setenv(EnvToken+"_FILE", "")
	t.Setenv(EnvPassword, secretVal)
	f("--influx-user is not", u)
}
