//go:build !linux

package main

import "syscall"

func engineSysProcAttr() *syscall.SysProcAttr { return nil }
