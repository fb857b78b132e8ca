package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/countlab/countlab/harness/run"
)

// flagRanges are the flags of each command (by flag set name, without
// "countlab ") whose values must be positive or at least 0, checked by
// parseFlags once they are parsed.
var flagRanges = map[string]struct{ positive, nonNegative []string }{
	"run":          {positive: []string{"duration"}},
	"check":        {positive: []string{"parallel"}, nonNegative: []string{"wait"}},
	"sink":         {positive: []string{"write-timeout"}},
	"engine":       {positive: []string{"idle-timeout", "dedup-horizon", "commit-interval"}, nonNegative: []string{"session-timeout", "lateness", "out-of-orderness"}},
	"gateway":      {positive: []string{"max-body-bytes", "max-batch", "max-in-flight", "produce-timeout"}},
	"query-server": {positive: []string{"influx-timeout", "retention", "max-range", "max-top-n"}},
	"reconcile":    {positive: []string{"influx-timeout"}, nonNegative: []string{"wait-for-engine"}},
}

// checkParsed checks the parsed fs against flagRanges; for check, it also
// makes sure the --query service answers at all (an unreachable target is
// a configuration problem, exit 2, not a failed check).
func checkParsed(fs *flag.FlagSet) error {
	name := strings.TrimPrefix(fs.Name(), "countlab ")
	r := flagRanges[name]
	if err := positiveFlags(fs, r.positive...); err != nil {
		return err
	}
	if err := nonNegativeFlags(fs, r.nonNegative...); err != nil {
		return err
	}
	if name != "check" {
		return nil
	}
	if err := truthsExist(fs); err != nil {
		return err
	}
	if q, t := fs.Lookup("query"), fs.Lookup("target"); q != nil && (t == nil || t.Value.String() == "") { // --target: its own read side
		return probeQuery(context.Background(), q.Value.String())
	}
	return nil
}

// truthsExist refuses a --truth that names no file (a DIR must hold
// run.TruthFile) before the query service is probed and long before a big
// truth is read: one mistake, one answer.
func truthsExist(fs *flag.FlagSet) error {
	f := fs.Lookup("truth")
	if f == nil {
		return nil
	}
	paths, _ := f.Value.(*listFlag)
	for _, p := range derefList(paths) {
		fi, err := os.Stat(p)
		if err == nil && fi.IsDir() {
			_, err = os.Stat(filepath.Join(p, run.TruthFile))
		}
		if err != nil {
			return usagef("--truth %s: %v (give a run's directory or its %s)", p, err, run.TruthFile)
		}
	}
	return nil
}

func derefList(l *listFlag) []string {
	if l == nil {
		return nil
	}
	return *l
}

// positiveFlags refuses (usage error, exit 2) a value <= 0 given on the
// command line for any of the named duration or integer flags: such a
// value means nothing, and silently falling back to a default hides the
// mistake. Flags not given are not checked (their defaults may be 0 for
// "the scenario's own", say).
func positiveFlags(fs *flag.FlagSet, names ...string) error {
	return checkSetFlags(fs, names, false)
}

// nonNegativeFlags is positiveFlags allowing 0.
func nonNegativeFlags(fs *flag.FlagSet, names ...string) error {
	return checkSetFlags(fs, names, true)
}

func checkSetFlags(fs *flag.FlagSet, names []string, zeroOK bool) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil || !set[n] {
			continue
		}
		g, ok := f.Value.(flag.Getter)
		if !ok {
			continue
		}
		var bad bool
		var fix string
		switch v := g.Get().(type) {
		case time.Duration:
			bad, fix = v < 0 || (v == 0 && !zeroOK), "a duration like 30s or 5m"
		case int:
			bad, fix = v < 0 || (v == 0 && !zeroOK), "a whole number"
		case int64:
			bad, fix = v < 0 || (v == 0 && !zeroOK), "a whole number"
		case float64:
			bad, fix = v < 0 || (v == 0 && !zeroOK), "a number"
		}
		if !bad {
			continue
		}
		want := "greater than 0"
		if zeroOK {
			want = "0 or more"
		}
		return usagef("--%s %s means nothing: give a value %s (%s), or leave the flag out for its default%s", n, f.Value, want, fix, defaultText(f))
	}
	return nil
}

// defaultText is f's default as -h shows it.
func defaultText(f *flag.Flag) string {
	if f.DefValue == "0" || f.DefValue == "0s" || f.DefValue == "" {
		return " (see -h)"
	}
	return " (" + f.DefValue + ")"
}
