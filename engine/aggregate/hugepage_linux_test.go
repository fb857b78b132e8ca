package aggregate

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestHugePagesAdvised: a large dedup index gets transparent huge pages
// where the kernel gives them on request (transparent_hugepage "madvise"
// or "always", with a defrag mode that compacts for madvised memory), and
// holds what it was given.
func TestHugePagesAdvised(t *testing.T) {
	mode := func(f string) string {
		b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/" + f)
		if err != nil {
			return ""
		}
		s := string(b)
		if i, j := strings.IndexByte(s, '['), strings.IndexByte(s, ']'); i >= 0 && j > i {
			return s[i+1 : j]
		}
		return ""
	}
	enabled, defrag := mode("enabled"), mode("defrag")
	var tb idTable
	tb.resize(1 << 20) // 24 MiB
	for i := range uint64(100_000) {
		tb.set(idHash{i + 1, i * 7}, int64(i))
	}
	for i := range uint64(100_000) {
		if ts, ok := tb.get(idHash{i + 1, i * 7}); !ok || ts != int64(i) {
			t.Fatalf("get %d = %d, %v", i, ts, ok)
		}
	}
	for i := range tb.slots { // touch every page
		_ = tb.slots[i].ts
		if tb.slots[i].h == (idHash{}) {
			tb.slots[i].ts = 0
		}
	}
	// The advised part (whole 2 MiB pages) is a mapping of its own.
	kb := anonHugeKB(t, (uintptr(unsafe.Pointer(&tb.slots[0]))+2<<20-1)&^(2<<20-1))
	t.Logf("transparent_hugepage enabled [%s] defrag [%s]: the table's mapping has %d kB of huge pages", enabled, defrag, kb)
	if (enabled == "madvise" || enabled == "always") && (defrag == "madvise" || defrag == "always" || defrag == "defer+madvise") && kb == 0 {
		t.Errorf("the kernel gives huge pages on request, but the 24 MiB table has none")
	}
}

// anonHugeKB is the AnonHugePages of the mapping of this process that
// holds addr (/proc/self/smaps).
func anonHugeKB(t *testing.T, addr uintptr) int {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(fs[0], "-"); ok && !strings.HasSuffix(fs[0], ":") {
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			in = err1 == nil && err2 == nil && uint64(addr) >= a && uint64(addr) < b
			continue
		}
		if in && fs[0] == "AnonHugePages:" && len(fs) > 1 {
			n, _ := strconv.Atoi(fs[1])
			return n
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return 0
}
