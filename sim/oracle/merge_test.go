package oracle

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestMergeShardsExact: four shards' truths, saved with their identities,
// loaded and merged, equal the truth of all their events exactly: every
// window total, late ones included, and the stats; a fifth truth that
// acknowledged an identity of another shard fails the merge.
func TestMergeShardsExact(t *testing.T) {
	c := Config{Windows: []time.Duration{10 * time.Second, time.Minute}}
	whole := newOracle(t, c)
	shards := make([]*Oracle, 4)
	for i := range shards {
		shards[i] = newOracle(t, c)
	}
	for n := 0; n < 4000; n++ {
		seq := n
		if n%7 == 0 {
			seq = n / 2 // a duplicate: the same (key, id) again
		}
		e := &Event{ID: fmt.Sprint("e", seq), Key: fmt.Sprint("k", seq%13), Type: "VIEW", Value: float64(seq%5) + 0.25, HasValue: true,
			TS: ref - int64(seq%200)*100, Dims: []Dim{{Name: "d", Value: fmt.Sprint(seq % 3)}}}
		s := Sent{Event: e, Ref: ref, Acked: n%31 != 0, Late: seq%97 == 0}
		if n%53 == 0 {
			s = Sent{Raw: []byte(`{"id":"bad"}`), Ref: ref, Code: CodeFieldMissing}
		}
		whole.Add(s)
		shards[seq%4].Add(s)
	}
	dir := t.TempDir()
	merged := newOracle(t, c)
	for i, o := range shards {
		p := filepath.Join(dir, fmt.Sprint("s", i))
		if err := o.Save(p + ".bin"); err != nil {
			t.Fatal(err)
		}
		if err := o.SaveIdentities(p + ".ids"); err != nil {
			t.Fatal(err)
		}
		l, err := Load(p + ".bin")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.LoadIdentities(p + ".ids"); err != nil {
			t.Fatal(err)
		}
		if l.Identities() != o.Identities() {
			t.Fatalf("shard %d: %d identities loaded, %d saved", i, l.Identities(), o.Identities())
		}
		if err := merged.Merge(l); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []Grouping{ByDimSet, ByKey} {
		for _, late := range []bool{false, true} {
			if w, m := whole.Windows(g, late), merged.Windows(g, late); !reflect.DeepEqual(w, m) {
				t.Fatalf("grouping %d late %v: merged windows differ from the whole truth's (%d and %d)", g, late, len(m), len(w))
			}
		}
	}
	if w, m := whole.Stats(), merged.Stats(); !reflect.DeepEqual(w, m) {
		t.Fatalf("stats: merged %+v, whole %+v", m, w)
	}
	if merged.Identities() != whole.Identities() {
		t.Fatalf("identities: merged %d, whole %d", merged.Identities(), whole.Identities())
	}

	// A shard that acknowledged another's identity: caught.
	over := newOracle(t, c)
	over.Add(Sent{Event: &Event{ID: "e1", Key: "k1", Type: "VIEW", TS: ref}, Ref: ref, Acked: true})
	before := merged.Stats().Distinct
	err := merged.Merge(over)
	if err == nil || !strings.Contains(err.Error(), "1 identities") {
		t.Fatalf("overlapping shard: %v", err)
	}
	if got := merged.Stats(); got.Distinct != before+1 || got.Duplicates != whole.Stats().Duplicates+1 {
		t.Fatalf("overlapping shard: distinct %d (want %d), duplicates %d", got.Distinct, before+1, got.Duplicates)
	}
	if err := merged.Merge(newOracle(t, Config{Windows: []time.Duration{time.Minute}})); err == nil {
		t.Fatal("merge of other window sizes: no error")
	}
}
