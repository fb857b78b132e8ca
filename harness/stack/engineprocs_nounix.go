//go:build !unix

package stack

import (
	"errors"
	"os"
)

// procSignal is a signal the stack sends an engine worker process.
type procSignal int

const (
	sigKillProc procSignal = iota
	sigTermProc
	sigStopProc
	sigContProc
)

func signalProc(p *os.Process, sig procSignal) error {
	switch sig {
	case sigKillProc, sigTermProc:
		return p.Kill()
	}
	return errors.ErrUnsupported
}
