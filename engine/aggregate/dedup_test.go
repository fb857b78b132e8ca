package aggregate

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestChangelogRoundTrip(t *testing.T) {
	added := []dedupEntry{{bucket: 20, h: idHash{1, 2}, ts: 25}, {bucket: 10, h: idHash{3, 4}, ts: 10}, {bucket: 20, h: idHash{5, 6}, ts: 29}}
	b := appendChangelog(nil, watermark{wm: 1234, maxTS: -5, ahead: 60_000}, added)
	got := map[idHash]int64{}
	w, err := readChangelog(b, 10, func(h idHash, ts int64) { got[h] = ts })
	if err != nil || w.wm != 1234 || w.maxTS != -5 || w.ahead != 60_000 {
		t.Fatalf("watermark %+v err %v", w, err)
	}
	if len(got) != 3 || got[idHash{3, 4}] != 10 || got[idHash{1, 2}] != 25 || got[idHash{5, 6}] != 29 {
		t.Fatalf("ids %v", got)
	}
	if _, err := readChangelog(b[:len(b)-3], 10, func(idHash, int64) {}); err == nil {
		t.Fatal("truncated record decoded")
	}
	// Version 2 (no times): an id is taken at its bucket's end.
	v2 := []byte{changelogV2}
	v2 = binary.AppendVarint(v2, 1234)
	v2 = binary.AppendVarint(v2, 0)
	v2 = binary.AppendVarint(v2, 0)
	v2 = binary.AppendUvarint(v2, 1)
	v2 = binary.AppendVarint(v2, 20)
	v2 = binary.AppendUvarint(v2, 1)
	v2 = binary.BigEndian.AppendUint64(v2, 7)
	v2 = binary.BigEndian.AppendUint64(v2, 8)
	clear(got)
	if _, err := readChangelog(v2, 10, func(h idHash, ts int64) { got[h] = ts }); err != nil || got[idHash{7, 8}] != 29 {
		t.Fatalf("version 2: %v %v", got, err)
	}
	b[0] = 1
	if _, err := readChangelog(b, 10, func(idHash, int64) {}); !errors.Is(err, errChangelogV1) {
		t.Fatalf("version 1 record: %v", err)
	}
}

func TestDedupSet(t *testing.T) {
	const horizon = 500
	d := newDedupSet(1000)
	h := hashID(appendIdentity(nil, "k", "a"))
	if h != hashID(appendIdentity(nil, "k", "a")) || h == hashID(appendIdentity(nil, "k", "b")) ||
		h == hashID(appendIdentity(nil, "j", "a")) || hashID(appendIdentity(nil, "ka", "")) == hashID(appendIdentity(nil, "k", "a")) {
		t.Fatal("hash not stable or collides")
	}
	if d.seen(h, minWatermark, horizon) {
		t.Fatal("seen before insert")
	}
	d.insert(h, 1500)
	if !d.seen(h, minWatermark, horizon) {
		t.Fatal("not seen after insert")
	}
	d.rollback()
	if d.seen(h, minWatermark, horizon) {
		t.Fatal("rollback kept the id")
	}
	d.insert(h, 1500)
	d.committed()
	// Forgotten exactly once ts <= wm - horizon, whatever the bucket.
	if !d.seen(h, 1999, horizon) || d.seen(h, 2000, horizon) {
		t.Fatal("forgotten at the wrong watermark")
	}
	// A later first copy replaces a forgotten one; rollback brings the
	// old time back.
	d.insert(h, 2600)
	if !d.seen(h, 3000, horizon) {
		t.Fatal("replacing copy not seen")
	}
	d.rollback()
	if idTime(d, h) != 1500 {
		t.Fatalf("rollback restored %v, want 1500", idTime(d, h))
	}
	d.insert(h, 2600)
	d.committed()
	d.expire(2000+500, 500) // bucket [1000,2000) ends at 2000 <= 2500-500; h now lives in [2000,3000)
	if d.len() != 1 || !d.seen(h, 2500, horizon) {
		t.Fatal("expire of the old bucket dropped the replacing time")
	}
	d.expire(3500, 500)
	if d.len() != 0 {
		t.Fatal("expire kept the bucket")
	}
	// restore keeps the latest time of an id given twice.
	d.restore(h, 2600)
	d.restore(h, 1500)
	if idTime(d, h) != 2600 {
		t.Fatalf("restore kept %v, want 2600", idTime(d, h))
	}
}

// TestDedupSetUnderChurn: a steady stream replaces the set's ids many
// times over; the table stays sized to the live ids (no tombstones to
// grow on), every id inside the horizon stays a duplicate and every
// forgotten one is gone.
func TestDedupSetUnderChurn(t *testing.T) {
	const width, horizon, perMS = 100, 1000, 50
	d := newDedupSet(width)
	peak := 0
	for ts := int64(0); ts < 20*horizon; ts++ {
		for i := range int64(perMS) {
			d.add(idHash{uint64(ts), uint64(i)}, ts, 0, false)
		}
		d.committed()
		d.expire(ts, horizon)
		peak = max(peak, d.len())
		if c := d.ids.cap(); c > 4*peak && c > minIDTable {
			t.Fatalf("at %d: %d slots for at most %d live ids", ts, c, peak)
		}
	}
	wm := int64(20*horizon - 1)
	for _, ts := range []int64{wm, wm - horizon + width, wm - horizon - width, 0} {
		want := !forgotten(ts, wm, horizon) && d.bucketStart(ts)+width > wm-horizon
		if got := d.seen(idHash{uint64(ts), 7}, wm, horizon); got != want {
			t.Errorf("id at %d: seen %v, want %v", ts, got, want)
		}
	}
	if n := d.len(); n > (horizon+2*width)*perMS {
		t.Fatalf("%d ids remembered for a horizon of %d ids", n, horizon*perMS)
	}
}

func idTime(d *dedupSet, h idHash) int64 {
	v, _ := d.ids.get(h)
	return v
}
