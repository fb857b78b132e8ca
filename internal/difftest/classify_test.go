package difftest

import (
	"os"
	"sort"
	"testing"
)

// TestClassify (COUNTLAB_DIFF_CLASSIFY=1) counts the disagreements by
// (engine code, oracle code), with an example of each: for a report.
func TestClassify(t *testing.T) {
	if os.Getenv("COUNTLAB_DIFF_CLASSIFY") == "" {
		t.Skip("COUNTLAB_DIFF_CLASSIFY not set")
	}
	v, o := newPair(t, 0)
	g := newGen(1, ref)
	type cls struct{ engine, oracle string }
	n := map[cls]int{}
	ex := map[cls][]byte{}
	for range 50000 {
		in := g.next()
		code, _ := engineVerdict(v, in.value, in.ref)
		oc := o.ExpectRecord(in.value, in.ref).Code
		if code != oc {
			c := cls{code, oc}
			n[c]++
			if len(ex[c]) == 0 || len(in.value) < len(ex[c]) {
				ex[c] = in.value
			}
		}
	}
	var cs []cls
	for c := range n {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return n[cs[i]] > n[cs[j]] })
	for _, c := range cs {
		t.Logf("%5d engine %-16q oracle %-16q e.g. %q", n[c], c.engine, c.oracle, ex[c])
	}
}
