package enrich

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestStoreTemporalLookup(t *testing.T) {
	st, rebuilt, err := OpenStore(filepath.Join(t.TempDir(), "m.db"))
	if err != nil || !rebuilt {
		t.Fatal(err, rebuilt)
	}
	defer st.Close()
	rec := func(e string, ts int64, ch string) Record {
		return Record{Entity: e, TS: ts, Attrs: []Attr{{"channel", ch}}}
	}
	// v1 moves c1 -> c2 at 100; v10 shares v1's prefix; a re-send of
	// (v1, 100) replaces it.
	if err := st.Apply([]Record{rec("v1", 50, "c1"), rec("v1", 100, "cX"), rec("v10", 10, "c9"), rec("v1", 100, "c2")}, map[int32]int64{0: 4}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		e      string
		before int64
		want   string
	}{{"v1", 50, Unknown}, {"v1", 51, "c1"}, {"v1", 100, "c1"}, {"v1", 101, "c2"}, {"v1", 1 << 62, "c2"},
		{"v10", 11, "c9"}, {"v10", 10, Unknown}, {"v", 1000, Unknown}, {"v2", 1000, Unknown}} {
		r, ok, err := st.Lookup(c.e, c.before)
		got := Unknown
		if ok {
			got = r.Get("channel")
		}
		if err != nil || got != c.want {
			t.Errorf("Lookup(%s, %d) = %s, %v; want %s", c.e, c.before, got, err, c.want)
		}
	}
	if n, _ := st.Versions(); n != 3 {
		t.Fatalf("versions %d, want 3", n)
	}
}

func TestStoreResumesAndRebuilds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	st, _, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Apply([]Record{{Entity: "a", TS: 1, Attrs: []Attr{{"c", "x"}}}}, map[int32]int64{0: 7, 1: 3}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, rebuilt, err := OpenStore(path)
	if err != nil || rebuilt {
		t.Fatal(err, rebuilt)
	}
	off, _ := st.Offsets()
	if off[0] != 7 || off[1] != 3 {
		t.Fatalf("offsets %v", off)
	}
	st.Close()
	// A file bbolt cannot open is replaced by an empty store: rebuilt
	// from the topic's start.
	if err := os.WriteFile(path, []byte("not a bbolt file, not at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, rebuilt, err = OpenStore(path)
	if err != nil || !rebuilt {
		t.Fatal(err, rebuilt)
	}
	defer st.Close()
	if off, _ := st.Offsets(); len(off) != 0 {
		t.Fatalf("offsets after rebuild %v", off)
	}
}

func fillStore(b *testing.B, n int) *Store {
	st, _, err := OpenStore(filepath.Join(b.TempDir(), "m.db"))
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]Record, 0, 10000)
	for i := range n {
		recs = append(recs, Record{Entity: "video-" + strconv.Itoa(i), TS: 1_700_000_000_000,
			Attrs: []Attr{{"channel", "ch" + strconv.Itoa(i%1000)}, {"title", "title of video " + strconv.Itoa(i)}}})
		if len(recs) == cap(recs) || i == n-1 {
			if err := st.Apply(recs, nil); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	return st
}

// BenchmarkStoreLookup: one temporal lookup (a read transaction, a seek
// and a step back) in a store of 10k and of 1M entities, in random order;
// the file's size per million entities (two attributes, ~60 bytes).
func BenchmarkStoreLookup(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			st := fillStore(b, n)
			defer st.Close()
			size, _ := st.FileBytes()
			i := 0
			for b.Loop() {
				if _, ok, err := st.Lookup("video-"+strconv.Itoa(i%n), 1_800_000_000_000); !ok || err != nil {
					b.Fatal(ok, err)
				}
				i += 7919
			}
			b.ReportMetric(float64(size)/(1<<20)*1e6/float64(n), "MiB/1M-entities")
		})
	}
}

// BenchmarkStoreLookupBatched: lookups 1000 to a read transaction
// (Store.Lookups), in a store of 1M entities.
func BenchmarkStoreLookupBatched(b *testing.B) {
	st := fillStore(b, 1_000_000)
	defer st.Close()
	i := 0
	for b.Loop() {
		err := st.Lookups(func(lookup func(string, int64) (Record, bool, error)) error {
			for range 1000 {
				if _, ok, err := lookup("video-"+strconv.Itoa(i%1_000_000), 1_800_000_000_000); !ok || err != nil {
					b.Fatal(ok, err)
				}
				i += 7919
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/lookup")
}
