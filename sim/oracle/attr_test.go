package oracle

import (
	"testing"
	"time"
)

func TestMetadataAtWindowEnd(t *testing.T) {
	var m Metadata
	m.AddVersion("v", 1000, map[string]string{"channel": "a"})
	m.AddVersion("v", 5000, map[string]string{"channel": "b"})
	m.AddVersion("v", 3000, map[string]string{"title": "t"}) // no channel
	for _, c := range []struct {
		end  int64
		want string
	}{{1000, UnknownValue}, {1001, "a"}, {3000, "a"}, {3001, UnknownValue}, {5001, "b"}} {
		if got := m.At("v", "channel", c.end); got != c.want {
			t.Errorf("At(%d) = %s, want %s", c.end, got, c.want)
		}
	}
	if m.At("w", "channel", 1<<40) != UnknownValue {
		t.Fatal("unknown entity")
	}
}

func TestAttrWindowsRollUp(t *testing.T) {
	o, err := New(Config{Windows: []time.Duration{10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	base := int64(1_800_000_000_000) // a multiple of 10 s
	add := func(id, key string, ts int64, v float64) {
		o.Add(Sent{Event: &Event{ID: id, Key: key, Type: "VIEW", Value: v, HasValue: true, TS: ts, TSNumber: true}, Acked: true, Ref: ts})
	}
	add("1", "v1", base+1000, 2)
	add("2", "v1", base+12000, 3)
	add("3", "v2", base+2000, 5)
	add("4", "v3", base+3000, 7)
	var m Metadata
	m.AddVersion("v1", base-1, map[string]string{"channel": "a"})
	m.AddVersion("v1", base+15000, map[string]string{"channel": "b"}) // mid-window: the whole window [10s, 20s)
	m.AddVersion("v2", base+9999, map[string]string{"channel": "a"})  // before the first window's end
	got := AttrWindows(o, &m, "channel")
	want := []AttrWindow{
		{AttrKey{"channel", UnknownValue, "VIEW", 10000, base}, Total{1, 7}},
		{AttrKey{"channel", "a", "VIEW", 10000, base}, Total{2, 7}},
		{AttrKey{"channel", "b", "VIEW", 10000, base + 10000}, Total{1, 3}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("window %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
