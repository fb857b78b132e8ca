//go:build linux

package stack

import "syscall"

// engineSysProcAttr kills an engine worker process when countlab dies.
func engineSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
