//go:build linux

package influxd

import "syscall"

// sysProcAttr puts influxd in its own process group (so a terminal's ^C
// reaches countlab, which then stops influxd in order, rather than both at
// once) and has the kernel SIGKILL it when the thread that started it dies,
// so it never outlives countlab. SIGKILL rather than SIGTERM because the
// guarantee matters more than a clean shutdown: every acknowledged write is
// already fsynced to the WAL (wal-fsync-delay = 0s).
//
// Pdeathsig fires when the parent *thread* exits. The Go runtime only ends a
// thread when a goroutine exits while locked to it (runtime.LockOSThread),
// which this package never does around Start; a caller that starts servers
// from such a goroutine gets the signal early.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
