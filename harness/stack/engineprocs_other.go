//go:build !linux

package stack

import "syscall"

func engineSysProcAttr() *syscall.SysProcAttr { return nil }
