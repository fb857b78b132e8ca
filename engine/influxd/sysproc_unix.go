//go:build unix && !linux

package influxd

import "syscall"

// sysProcAttr puts influxd in its own process group. Outside Linux there is
// no parent-death signal: Stop (or Kill) must be called.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
