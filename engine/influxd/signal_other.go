//go:build !unix

package influxd

import (
	"errors"
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup can only kill outside Unix: SIGTERM becomes a kill, and
// Pause/Resume are unsupported.
func signalGroup(pid int, sig sig) error {
	switch sig {
	case sigTerm, sigKill:
		p, err := os.FindProcess(pid)
		if err != nil {
			return err
		}
		return p.Kill()
	}
	return errors.ErrUnsupported
}
