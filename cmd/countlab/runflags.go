package main

import (
	"flag"
	"strconv"
	"strings"
)

// takeHiddenInt removes --name=N / --name N (or one dash) from args and
// returns N (0 when absent).
func takeHiddenInt(args []string, name string) ([]string, int, error) {
	out := make([]string, 0, len(args))
	n := 0
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		flagName := strings.TrimLeft(a, "-")
		if !strings.HasPrefix(a, "-") || !(flagName == name || strings.HasPrefix(flagName, name+"=")) {
			out = append(out, a)
			continue
		}
		val, ok := strings.CutPrefix(flagName, name+"=")
		if !ok {
			if i+1 >= len(args) {
				return nil, 0, usagef("--%s needs a value", name)
			}
			i++
			val = args[i]
		}
		v, err := strconv.Atoi(val)
		if err != nil || v < 0 {
			return nil, 0, usagef("--%s: %q is not a whole number >= 0", name, val)
		}
		n = v
	}
	return out, n, nil
}

// takeHiddenBool removes --name / --name=BOOL (or one dash) from args and
// reports whether it was set (false when absent).
func takeHiddenBool(args []string, name string) ([]string, bool, error) {
	out := make([]string, 0, len(args))
	set := false
	for i, a := range args {
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		flagName := strings.TrimLeft(a, "-")
		if !strings.HasPrefix(a, "-") || !(flagName == name || strings.HasPrefix(flagName, name+"=")) {
			out = append(out, a)
			continue
		}
		set = true
		if val, ok := strings.CutPrefix(flagName, name+"="); ok {
			v, err := strconv.ParseBool(val)
			if err != nil {
				return nil, false, usagef("--%s: %q is not a boolean", name, val)
			}
			set = v
		}
	}
	return out, set, nil
}

// parseWithPositional parses flags with one positional argument before or
// after them.
func parseWithPositional(fs *flag.FlagSet, args []string, what string) (string, error) {
	var pos string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		pos, args = args[0], args[1:]
	}
	applyHelp(fs) // help.go
	if err := parseArgs(fs, args); err != nil {
		return "", err
	}
	rest := fs.Args()
	if pos == "" && len(rest) > 0 {
		pos, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return "", usagef("unexpected argument %q", rest[0])
	}
	if pos == "" {
		return "", usagef("missing %s (see -h)", what)
	}
	return pos, checkParsed(fs) // flagcheck.go
}
