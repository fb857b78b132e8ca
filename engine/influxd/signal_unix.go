//go:build unix

package influxd

import (
	"errors"
	"os"
	"syscall"
)

// signalProc sends sig to influxd through its os.Process (a pidfd on
// Linux), never by a bare pid or process group: a process that exited and
// was reaped cannot be mistaken for a newer one that got its pid (pids
// wrap quickly on a busy machine, and every influxd leads its own process
// group, Setpgid). SIGCONT after SIGTERM wakes a paused server so it can
// act on the SIGTERM.
func signalProc(p *os.Process, sig sig) error {
	var s syscall.Signal
	switch sig {
	case sigTerm:
		s = syscall.SIGTERM
	case sigKill:
		s = syscall.SIGKILL
	case sigStop:
		s = syscall.SIGSTOP
	case sigCont:
		s = syscall.SIGCONT
	}
	err := p.Signal(s)
	if errors.Is(err, os.ErrProcessDone) {
		return nil // already gone
	}
	return err
}
