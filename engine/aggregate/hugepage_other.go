//go:build !linux

package aggregate

import "unsafe"

// adviseHugePages is a no-op off Linux (hugepage_linux.go).
func adviseHugePages(p unsafe.Pointer, n uintptr) {}

// populate is a no-op off Linux (hugepage_linux.go).
func populate(p unsafe.Pointer, n uintptr) {}
