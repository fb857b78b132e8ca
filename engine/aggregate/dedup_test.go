package aggregate

import (
	"errors"
	"testing"
)

func TestChangelogRoundTrip(t *testing.T) {
	added := []dedupEntry{{20, idHash{1, 2}}, {10, idHash{3, 4}}, {20, idHash{5, 6}}}
	b := appendChangelog(nil, watermark{wm: 1234, maxTS: -5, ahead: 60_000}, added)
	got := map[idHash]int64{}
	w, err := readChangelog(b, func(bucket int64, h idHash) { got[h] = bucket })
	if err != nil || w.wm != 1234 || w.maxTS != -5 || w.ahead != 60_000 {
		t.Fatalf("watermark %+v err %v", w, err)
	}
	if len(got) != 3 || got[idHash{3, 4}] != 10 || got[idHash{1, 2}] != 20 || got[idHash{5, 6}] != 20 {
		t.Fatalf("ids %v", got)
	}
	if _, err := readChangelog(b[:len(b)-3], func(int64, idHash) {}); err == nil {
		t.Fatal("truncated record decoded")
	}
	b[0] = 1
	if _, err := readChangelog(b, func(int64, idHash) {}); !errors.Is(err, errChangelogV1) {
		t.Fatalf("version 1 record: %v", err)
	}
}

func TestDedupSet(t *testing.T) {
	d := newDedupSet(1000)
	h := hashID(appendIdentity(nil, "k", "a"))
	if h != hashID(appendIdentity(nil, "k", "a")) || h == hashID(appendIdentity(nil, "k", "b")) ||
		h == hashID(appendIdentity(nil, "j", "a")) || hashID(appendIdentity(nil, "ka", "")) == hashID(appendIdentity(nil, "k", "a")) {
		t.Fatal("hash not stable or collides")
	}
	if !d.insert(h, 1500) || d.insert(h, 1500) {
		t.Fatal("insert/dup")
	}
	d.rollback()
	if !d.insert(h, 1500) {
		t.Fatal("rollback kept the id")
	}
	d.committed()
	d.expire(2000+500, 500) // bucket [1000,2000) ends at 2000 <= 2500-500
	if d.len() != 0 || !d.insert(h, 1500) {
		t.Fatal("expire kept the bucket")
	}
	d.committed()
	d.expire(2499, 500)
	if d.insert(h, 1500) {
		t.Fatal("expired too early")
	}
}
