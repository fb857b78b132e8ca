//go:build unix

package influxd

import "syscall"

// signalGroup sends sig to influxd's process group (its pgid is its pid:
// Setpgid). SIGCONT after SIGTERM wakes a paused server so it can act on
// the SIGTERM.
func signalGroup(pid int, sig sig) error {
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
	err := syscall.Kill(-pid, s)
	if err == syscall.ESRCH {
		return nil // already gone
	}
	return err
}
