package aggregate

import (
	"syscall"
	"unsafe"
)

// adviseHugePages asks the kernel to back the whole 2 MiB pages of the n
// bytes at p with transparent huge pages, if n is at least 4 MiB. It is
// for the dedup index (idtable.go): a table of up to hundreds of MiB
// probed at random once per event, where with 4 KiB pages nearly every
// probe misses the TLB as well as the cache. Go's runtime does not ask
// for huge pages itself, and a kernel in the common "madvise" mode gives
// them only when asked. The pages are then dropped (MADV_DONTNEED), so
// they fault in again zero-filled and huge: make may already have touched
// them as 4 KiB pages, zeroing reused memory, and those would stay small.
// Call it on a freshly made slice before writing to it. It is a hint: it
// changes no value (the slice is zero either way), and an error is
// ignored.
// BenchmarkDedupLookup (3M live ids under churn) on the 2-core reference
// machine: 480 -> 382 ns an event (medians of three, old and new run
// alternately).
func adviseHugePages(p unsafe.Pointer, n uintptr) {
	const huge = 2 << 20
	if n < 2*huge {
		return
	}
	start := (uintptr(p) + huge - 1) &^ (huge - 1)
	end := (uintptr(p) + n) &^ (huge - 1)
	if end > start {
		b := unsafe.Slice((*byte)(unsafe.Add(p, start-uintptr(p))), end-start)
		if syscall.Madvise(b, syscall.MADV_HUGEPAGE) == nil {
			_ = syscall.Madvise(b, syscall.MADV_DONTNEED)
		}
	}
}

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14), which the
// syscall package does not name.
const madvPopulateWrite = 23

// populate faults in the whole 4 KiB pages of the n bytes at p, writable,
// in one call, for a table about to be filled at random (idTable.resize).
// Left to fault one by one, a fresh page of such a table is first read
// (the probe for an empty slot: the kernel maps its shared zero page) and
// then written (a second fault, copy on write), and on this virtual
// machine a fault costs about 12 µs: growing four dedup tables to 250k
// ids each in a fresh process took 353 ms, with a write to each page up
// front 241 ms, populated in one call 180 ms (medians of five, run
// alternately). It is a hint like adviseHugePages: it changes no
// value, and where the kernel is older than 5.14 each page is written
// once instead.
func populate(p unsafe.Pointer, n uintptr) {
	const page = 4 << 10
	start := (uintptr(p) + page - 1) &^ (page - 1)
	end := (uintptr(p) + n) &^ (page - 1)
	if end <= start {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Add(p, start-uintptr(p))), end-start)
	if syscall.Madvise(b, madvPopulateWrite) == nil {
		return
	}
	for i := 0; i < len(b); i += page {
		b[i] = 0
	}
}
