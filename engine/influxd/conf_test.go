package influxd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRender(t *testing.T) {
	l := layout{dir: "/tmp/x", httpPort: 18086, rpcPort: 18088}
	conf := l.render()
	for _, want := range []string{
		"reporting-disabled = true\n",
		`bind-address = "127.0.0.1:18088"` + "\n",
		`  dir = "/tmp/x/meta"`,
		`  dir = "/tmp/x/data"`,
		`  wal-dir = "/tmp/x/wal"`,
		`  index-version = "inmem"`,
		`  wal-fsync-delay = "0s"`,
		"[http]\n  enabled = true\n" + `  bind-address = "127.0.0.1:18086"`,
		"  flux-enabled = true",
		"  log-enabled = false",
		"[monitor]\n  store-enabled = false",
		"[subscriber]\n  enabled = false",
		"[continuous_queries]\n  enabled = false",
		"[[udp]]\n  enabled = false",
		"[[graphite]]\n  enabled = false",
		`  level = "warn"`,
		"  suppress-logo = true",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
}

func TestQuoteIdent(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := quoteIdent(in); got != want {
			t.Errorf("quoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
	f("countlab", `"countlab"`)
	f(`a"b`, `"a\"b"`)
	f(`a\b`, `"a\\b"`)
}

func TestValidate(t *testing.T) {
	f := func(name string, opts []Opt, ok bool) {
		t.Helper()
		c := defaultCfg()
		for _, o := range opts {
			o.apply(&c)
		}
		if err := c.validate(); (err == nil) != ok {
			t.Errorf("%s: validate = %v, want ok=%v", name, err, ok)
		}
	}
	f("defaults", nil, true)
	f("empty database", []Opt{Database("")}, false)
	f("slash in database", []Opt{Database("a/b")}, false)
	f("port", []Opt{Port(8086)}, true)
	f("bad port", []Opt{Port(70000)}, false)
	f("zero start timeout", []Opt{StartTimeout(0)}, false)
	f("zero stop timeout", []Opt{StopTimeout(0)}, false)
}

func TestFindBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "repo", "bin", "influxd")
	sub := filepath.Join(dir, "repo", "engine", "x")
	for _, d := range []string{filepath.Dir(bin), sub} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, ok := searchUp(sub); !ok || got != bin {
		t.Errorf("searchUp(%s) = %q, %v; want %s", sub, got, ok, bin)
	}
	if got, ok := searchUp(filepath.Join(dir, "elsewhere")); ok {
		t.Errorf("searchUp found %s outside the repo", got)
	}

	t.Setenv(EnvBinary, bin)
	if got, err := FindBinary(); err != nil || got != bin {
		t.Errorf("FindBinary with %s set = %q, %v", EnvBinary, got, err)
	}
	t.Setenv(EnvBinary, filepath.Join(dir, "missing"))
	if _, err := FindBinary(); !errors.Is(err, ErrNoBinary) || !strings.Contains(err.Error(), "make influxd") {
		t.Errorf("FindBinary with a missing %s = %v, want ErrNoBinary naming `make influxd`", EnvBinary, err)
	}
	_, err := Start(context.Background(), Binary(filepath.Join(dir, "missing")))
	if !errors.Is(err, ErrNoBinary) {
		t.Errorf("Start(Binary(missing)) = %v, want ErrNoBinary", err)
	}
}

// TestStartupFailure runs a fake influxd that fails: the error carries its
// output, and the temporary data dir is gone.
func TestStartupFailure(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	fake := filepath.Join(t.TempDir(), "influxd")
	script := "#!/bin/sh\necho 'run: open server: bad config, the fake says boom' >&2\nexit 1\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Start(ctx, Binary(fake))
	if err == nil || !strings.Contains(err.Error(), "the fake says boom") {
		t.Fatalf("Start of a failing binary = %v, want its output in the error", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("failed Start left %v in TMPDIR", left)
	}

	// One that never becomes healthy hits the start timeout.
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho waiting\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, err = Start(ctx, Binary(fake), StartTimeout(300*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "not healthy after") || !strings.Contains(err.Error(), "waiting") {
		t.Fatalf("Start of a hanging binary = %v", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("start timeout took %v", d)
	}
}
