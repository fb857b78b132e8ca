package oracle

import (
	"syscall"
	"unsafe"
)

// useHugePages asks the kernel for transparent huge pages under the
// whole 2 MiB pages of a freshly made table (nothing written to it yet),
// and drops the pages it has, so that they fault in again zero-filled and
// huge (make may have zeroed reused memory, touching it as 4 KiB pages).
// The identity set's probes are random reads over tens of MiB: with
// small pages nearly each is a TLB miss on top of the cache miss. It is
// advice, and its own code (the oracle imports nothing of countlab,
// TestImports): the table reads zero either way, and errors are ignored.
func useHugePages(t []fingerprint) {
	const page = 2 << 20
	size := uintptr(len(t)) * unsafe.Sizeof(fingerprint{})
	if size < 4*page {
		return
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(t)))
	lo, hi := (base+page-1)&^(page-1), (base+size)&^(page-1)
	if hi <= lo {
		return
	}
	mem := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t))), size)[lo-base : hi-base]
	if syscall.Madvise(mem, syscall.MADV_HUGEPAGE) == nil {
		_ = syscall.Madvise(mem, syscall.MADV_DONTNEED)
	}
}
