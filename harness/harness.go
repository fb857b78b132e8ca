// Package harness is countlab's load-testing harness as a library: the
// embedded reference stack (harness/stack), the probes that sample a run
// (harness/probe) and the runner that turns a scenario and a target into
// a typed report (harness/run). cmd/countlab only parses flags and calls
// these packages.
//
// This package holds what they share: the configuration error, which the
// command line turns into exit code 2.
package harness

import (
	"errors"
	"fmt"
)

// ConfigError marks a configuration problem found before anything runs (a
// bad scenario, option or target): the command line exits 2 on it.
type ConfigError struct{ Err error }

func (e ConfigError) Error() string { return e.Err.Error() }
func (e ConfigError) Unwrap() error { return e.Err }

// Configf is a ConfigError with a formatted message.
func Configf(format string, a ...any) error { return ConfigError{fmt.Errorf(format, a...)} }

// IsConfig reports whether err is (or wraps) a ConfigError.
func IsConfig(err error) bool {
	var ce ConfigError
	return errors.As(err, &ce)
}
