//go:build !unix

package influxd

import (
	"errors"
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalProc can only kill outside Unix: SIGTERM becomes a kill, and
// Pause/Resume are unsupported.
func signalProc(p *os.Process, sig sig) error {
	switch sig {
	case sigTerm, sigKill:
		return p.Kill()
	}
	return errors.ErrUnsupported
}
