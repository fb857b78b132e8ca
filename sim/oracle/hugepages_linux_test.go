package oracle

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestIdentityTableOnHugePages: where the kernel gives transparent huge
// pages on request, a large identity table, once filled, sits mostly on
// them; and it holds what it was given.
func TestIdentityTableOnHugePages(t *testing.T) {
	en, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	df, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/defrag")
	if !strings.Contains(string(en), "[madvise]") && !strings.Contains(string(en), "[always]") ||
		!strings.Contains(string(df), "madvise]") && !strings.Contains(string(df), "[always]") {
		t.Skipf("transparent huge pages not given on request here: enabled %q, defrag %q", en, df)
	}
	before := processHugeKB(t)
	s := newIDSet(1 << 21) // 4M slots, 64 MiB
	for i := range 1 << 21 {
		if !s.add(identity("k", strconv.Itoa(i))) {
			t.Fatalf("identity %d not new", i)
		}
	}
	if !s.has(identity("k", "12345")) || s.has(identity("k", "x")) {
		t.Fatal("the table lost or invented an identity")
	}
	got := processHugeKB(t) - before
	t.Logf("%d KiB more of the process on huge pages after filling a 64 MiB identity table", got)
	if got < 16<<10 {
		t.Errorf("only %d KiB more on huge pages: the table is not on them", got)
	}
}

// processHugeKB is this process's AnonHugePages, in KiB.
func processHugeKB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		t.Skipf("no smaps_rollup: %v", err)
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "AnonHugePages:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}
