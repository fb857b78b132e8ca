package reconcile

import "testing"

func TestSafetyRule(t *testing.T) {
	const L, O, size, start = 15_000, 5_000, 60_000, 600_000
	closeAt := int64(start + size + L + O) // M_p needed without a Closed record
	f := func(pr *partRead, ahead, closed, want bool) {
		t.Helper()
		s := &safety{lateness: L, outOfOrder: O, parts: map[int32]*partRead{}, ahead: map[int32]bool{1: ahead}}
		if pr != nil {
			s.parts[1] = pr
		}
		if got := s.safe(1, start, size, closed); got != want {
			t.Fatalf("safe(%+v, ahead %v, closed %v) = %v, want %v", pr, ahead, closed, got, want)
		}
	}
	read := func(maxTS int64) *partRead { return &partRead{end: 10, maxTS: maxTS, valid: true} }
	f(read(closeAt), true, false, true)       // exactly at the bound
	f(read(closeAt-1), true, false, false)    // 1ms short: the engine may hold it open
	f(read(closeAt-1), true, true, true)      // but its Closed record proves it closed
	f(read(closeAt+1e6), false, false, false) // engine behind: never
	f(read(closeAt+1e6), false, true, false)  // not even with a Closed record
	f(&partRead{end: 10}, true, false, false) // only malformed records: no M_p
	f(&partRead{end: 10}, true, true, true)
	f(nil, false, false, false) // nothing read from the partition
	f(nil, false, true, true)
}
