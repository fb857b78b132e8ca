//go:build !linux

package oracle

// useHugePages does nothing where there is no madvise(MADV_HUGEPAGE).
func useHugePages([]fingerprint) {}
