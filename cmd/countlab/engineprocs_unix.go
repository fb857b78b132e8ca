//go:build unix

package main

import "syscall"

// procSignal is a signal the stack sends an engine worker process.
type procSignal = syscall.Signal

const (
	sigKillProc = syscall.SIGKILL
	sigTermProc = syscall.SIGTERM
	sigStopProc = syscall.SIGSTOP
	sigContProc = syscall.SIGCONT
)

func signalProc(pid int, sig procSignal) error { return syscall.Kill(pid, sig) }
