package k8s_test

// Every container's args against the flags the built countlab binary's
// -h lists, and every $(VAR) in them against the container's environment.

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// helpFlag is a flag as -h lists it.
type helpFlag struct {
	name   string
	isBool bool
	// repeatable: its description says it may be repeated.
	repeatable bool
}

// countlab is the countlab binary built from this tree, and the flags of
// each command's -h as it lists them.
type countlab struct {
	bin   string
	flags map[string]map[string]helpFlag
}

// buildCountlab builds cmd/countlab into a temp dir of t (bounded).
func buildCountlab(t *testing.T) *countlab {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "countlab")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/countlab/countlab/cmd/countlab").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/countlab: %v\n%s", err, out)
	}
	return &countlab{bin: bin, flags: map[string]map[string]helpFlag{}}
}

var (
	helpFlagLine = regexp.MustCompile(`^  -(\S+)(?: (\S+))?$`)
	// synopsisFlag is a flag the usage line names, "--json" or "--query URL".
	synopsisFlag = regexp.MustCompile(`--([a-z][a-z0-9-]*)( [A-Z]|=)?`)
)

// commandFlags runs countlab CMD... -h (once per command) and parses its
// flags: section and the flags its usage lines name.
func (cl *countlab) commandFlags(t *testing.T, cmd []string) map[string]helpFlag {
	t.Helper()
	key := strings.Join(cmd, " ")
	if f, ok := cl.flags[key]; ok {
		return f
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, cl.bin, append(cmd, "-h")...).CombinedOutput() // -h exits non-zero by design of flag
	flags := map[string]helpFlag{}
	inFlags, last := false, ""
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "usage: ") {
			// A flag the (first) synopsis line names but the flags:
			// section does not (check's --json, taken before the
			// flag set).
			for _, m := range synopsisFlag.FindAllStringSubmatch(line, -1) {
				flags[m[1]] = helpFlag{name: m[1], isBool: m[2] == ""}
			}
		}
		if line == "flags:" {
			inFlags = true
			continue
		}
		if m := helpFlagLine.FindStringSubmatch(line); inFlags && m != nil {
			last = m[1]
			flags[last] = helpFlag{name: last, isBool: m[2] == ""}
		} else if f, ok := flags[last]; inFlags && ok && strings.Contains(line, "repeat") {
			f.repeatable = true
			flags[last] = f
		}
	}
	if len(flags) == 0 {
		t.Fatalf("countlab %s -h lists no flags:\n%s", key, out)
	}
	cl.flags[key] = flags
	return flags
}

// parsedArgs are a container's args split into the command, positional
// arguments and flag values (a repeated flag keeps every value).
type parsedArgs struct {
	cmd        []string
	positional []string
	values     map[string][]string
}

// parseArgs splits args by the flags of countlab cmd, reporting every
// flag -h does not list.
func (cl *countlab) parseArgs(t *testing.T, where string, args []string) parsedArgs {
	t.Helper()
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		t.Fatalf("%s: args %q do not start with a countlab command", where, args)
	}
	p := parsedArgs{cmd: []string{args[0]}, values: map[string][]string{}}
	for _, a := range args {
		if a == "--from-log" && args[0] == "check" {
			p.cmd = []string{"check", "--from-log"}
		}
	}
	known := cl.commandFlags(t, p.cmd)
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			p.positional = append(p.positional, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f, ok := known[name]
		switch {
		case !ok:
			t.Errorf("%s: --%s is not a flag of countlab %s (see countlab %s -h)", where, name, strings.Join(p.cmd, " "), strings.Join(p.cmd, " "))
		case !f.isBool && !hasVal:
			// One arg per flag keeps the manifests greppable and lets
			// the layout checks read values without the binary.
			t.Errorf("%s: write --%s=VALUE as one arg", where, name)
		}
		p.values[name] = append(p.values[name], val)
		if len(p.values[name]) == 2 && ok && !f.repeatable {
			t.Errorf("%s: --%s given more than once, and countlab %s -h does not say it may be (the last would win)", where, name, strings.Join(p.cmd, " "))
		}
	}
	return p
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func TestContainerArgsAreCountlabFlags(t *testing.T) {
	l := loadLayout(t, ".")
	cl := buildCountlab(t)
	for _, ps := range l.pods() {
		for _, c := range ps.spec.Containers {
			where := ps.name + " container " + c.Name
			if len(c.Command) != 1 || c.Command[0] != "countlab" {
				t.Errorf("%s: command %q, want [countlab] (args carry the subcommand)", where, c.Command)
			}
			cl.parseArgs(t, where, c.Args)
			defined := containerEnv(t, l, where, c)
			for _, a := range c.Args {
				for _, m := range envRef.FindAllStringSubmatch(a, -1) {
					if !defined[m[1]] {
						t.Errorf("%s: %q names $(%s), which the container's env does not define (Kubernetes would pass it literally)", where, a, m[1])
					}
				}
				if strings.Contains(strings.ToLower(a), "token") || strings.Contains(strings.ToLower(a), "password") {
					t.Errorf("%s: %q: a secret in args; secrets come from the Secret as files", where, a)
				}
			}
		}
	}
}

// containerEnv is every variable c's env and envFrom define, failing on
// a ConfigMap or Secret reference that does not exist.
func containerEnv(t *testing.T, l *layout, where string, c corev1.Container) map[string]bool {
	t.Helper()
	defined := map[string]bool{}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm, ok := l.configMaps[ef.ConfigMapRef.Name]
			if !ok {
				t.Errorf("%s: envFrom ConfigMap %q does not exist", where, ef.ConfigMapRef.Name)
				continue
			}
			for k := range cm.Data {
				defined[ef.Prefix+k] = true
			}
		case ef.SecretRef != nil:
			s, ok := l.secrets[ef.SecretRef.Name]
			if !ok {
				t.Errorf("%s: envFrom Secret %q does not exist", where, ef.SecretRef.Name)
				continue
			}
			for k := range secretKeys(s) {
				defined[ef.Prefix+k] = true
			}
		}
	}
	for _, e := range c.Env {
		defined[e.Name] = true
	}
	return defined
}
