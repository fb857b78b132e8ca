package enrich

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

func TestStoreSpans(t *testing.T) {
	st, _, err := OpenStore(filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ch := func(e string, ts int64, c string) Record {
		return Record{Entity: e, TS: ts, Attrs: []Attr{{"channel", c}, {"title", "t"}}}
	}
	// v1: c1 from 50, c2 from 100, deleted at 150, c3 from 200; v10
	// shares v1's prefix; w has a version at exactly the window start.
	if err := st.Apply([]Record{ch("v1", 50, "c1"), ch("v1", 100, "c2"), {Entity: "v1", TS: 150}, ch("v1", 200, "c3"),
		ch("v10", 120, "c9"), ch("w", 100, "cw")}, map[int32]int64{0: 6}); err != nil {
		t.Fatal(err)
	}
	str := func(ss []Span) string {
		var b strings.Builder
		for _, s := range ss {
			b.WriteString(strconv.FormatInt(s.From, 10) + ":" + strings.Join(s.Values, "/") + " ")
		}
		return b.String()
	}
	for _, c := range []struct {
		e        string
		from, to int64
		want     string
	}{
		{"v1", 0, 100, "0:(unknown)/(unknown) 50:c1/t "},
		{"v1", 100, 200, "100:c2/t 150:(unknown)/(unknown) "},
		{"v1", 60, 1000, "60:c1/t 100:c2/t 150:(unknown)/(unknown) 200:c3/t "},
		{"v1", 201, 300, "201:c3/t "},
		{"v10", 0, 200, "0:(unknown)/(unknown) 120:c9/t "},
		{"w", 100, 200, "100:cw/t "},
		{"x", 0, 1 << 40, "0:(unknown)/(unknown) "},
		{"zzz", 0, 10, "0:(unknown)/(unknown) "}, // after every key
	} {
		got, err := st.Spans(c.e, c.from, c.to, []string{"channel", "title"})
		if err != nil || str(got) != c.want {
			t.Errorf("Spans(%s, %d, %d) = %q, %v; want %q", c.e, c.from, c.to, str(got), err, c.want)
		}
	}
}
