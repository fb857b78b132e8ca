// Package secret reads countlab's secrets (SASL passwords, tokens) the two
// ways it accepts them: from an environment variable NAME, or from the file
// that NAME_FILE (or a --*-file flag) names. A secret is never a flag's
// value, since a command line is visible to every user of the machine (ps,
// /proc/PID/cmdline).
//
// Errors name the variable or the file, never the secret.
package secret

import (
	"fmt"
	"os"
	"strings"
)

// FromEnv is the secret in the environment variable name, or in the file
// the variable name+"_FILE" names; "" when neither is set. Both set is an
// error (which one wins would be a guess).
func FromEnv(name string) (string, error) {
	v, f := os.Getenv(name), os.Getenv(name+"_FILE")
	switch {
	case v != "" && f != "":
		return "", fmt.Errorf("%s and %s_FILE are both set: unset one", name, name)
	case f != "":
		s, err := FromFile(f)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		return s, nil
	}
	return v, nil
}

// FromFile is the secret in the file path: its content without the
// trailing line break an editor or `echo` adds. An empty file is an error.
func FromFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// Read is the secret in file when file is not "" (flag is the flag that
// named it, for the error), else FromEnv(env).
func Read(file, flag, env string) (string, error) {
	if file == "" {
		return FromEnv(env)
	}
	s, err := FromFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	return s, nil
}
