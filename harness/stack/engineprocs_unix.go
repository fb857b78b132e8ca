//go:build unix

package stack

import (
	"os"
	"syscall"
)

// procSignal is a signal the stack sends an engine worker process.
type procSignal = syscall.Signal

const (
	sigKillProc = syscall.SIGKILL
	sigTermProc = syscall.SIGTERM
	sigStopProc = syscall.SIGSTOP
	sigContProc = syscall.SIGCONT
)

// signalProc signals p through its os.Process (a pidfd on Linux), never
// by a bare pid: a process that exited and was reaped cannot be mistaken
// for a newer one that got its pid.
func signalProc(p *os.Process, sig procSignal) error { return p.Signal(sig) }
