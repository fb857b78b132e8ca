package oracle

import (
	"testing"
	"time"
)

func TestMetadataAtEventTime(t *testing.T) {
	var m Metadata
	m.AddVersion("v", 1000, map[string]string{"channel": "a"})
	m.AddVersion("v", 5000, map[string]string{"channel": "b"})
	m.AddVersion("v", 3000, map[string]string{"title": "t"}) // no channel
	m.Delete("v", 7000)
	for _, c := range []struct {
		ts   int64
		want string
	}{{999, UnknownValue}, {1000, "a"}, {2999, "a"}, {3000, UnknownValue}, {5000, "b"}, {6999, "b"}, {7000, UnknownValue}} {
		if got := m.At("v", "channel", c.ts); got != c.want {
			t.Errorf("At(%d) = %s, want %s", c.ts, got, c.want)
		}
	}
	if m.At("w", "channel", 1<<40) != UnknownValue {
		t.Fatal("unknown entity")
	}
}

// TestAttrWindowsPerEvent is the hand-computed example of
// docs/enrichment.md, which engine/aggregate's TestAttrPerEventJoin
// checks the engine against: a window is split at a version's effective
// time, a version effective after an event does not apply to it, and a
// deletion ends the entity's attributes.
func TestAttrWindowsPerEvent(t *testing.T) {
	if _, err := AttrWindows(newOracle(t, Config{}), &Metadata{}, "channel", false); err != ErrNoEventTimes {
		t.Fatalf("without event times: %v", err)
	}
	o := newOracle(t, Config{Windows: []time.Duration{10 * time.Second}, EventTimes: true})
	base := int64(1_767_225_600_000) // a multiple of 10 s
	add := func(id, key string, ts int64, v float64) {
		o.Add(Sent{Event: &Event{ID: id, Key: key, Type: "VIEW", Value: v, HasValue: true, TS: base + ts, TSNumber: true}, Acked: true, Ref: base + ts})
	}
	add("1", "v1", 1000, 2)
	add("2", "v2", 2000, 5)
	add("3", "v3", 3000, 7)
	add("4", "v4", 4000, 1)
	add("5", "v1", 12000, 3)
	add("6", "v4", 6000, 2)
	add("7", "v1", 15000, 10)
	add("8", "v1", 16000, 4)
	var m Metadata
	a, b := map[string]string{"channel": "a"}, map[string]string{"channel": "b"}
	m.AddVersion("v1", base-1, a)
	m.AddVersion("v1", base+15000, b) // mid-window: the window splits
	m.AddVersion("v2", base+9999, a)  // after v2's only event
	m.AddVersion("v4", base-1, a)
	m.Delete("v4", base+5000)
	got, err := AttrWindows(o, &m, "channel", false)
	if err != nil {
		t.Fatal(err)
	}
	want := []AttrWindow{
		{AttrKey{"channel", UnknownValue, "VIEW", 10000, base}, Total{3, 14}},
		{AttrKey{"channel", "a", "VIEW", 10000, base}, Total{2, 3}},
		{AttrKey{"channel", "a", "VIEW", 10000, base + 10000}, Total{1, 3}},
		{AttrKey{"channel", "b", "VIEW", 10000, base + 10000}, Total{2, 14}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("window %d: got %+v, want %+v", i, got[i], want[i])
		}
	}

	// A too-late event (sent after its window closed) is left out on
	// time and, after a reconcile (includeLate), joined at its own time:
	// v1 was in channel a at 2 s.
	add("10", "v1", 40000, 1)
	o.Add(Sent{Event: &Event{ID: "9", Key: "v1", Type: "VIEW", Value: 6, HasValue: true, TS: base + 2000, TSNumber: true}, Acked: true, Ref: base + 41000, Late: true})
	if o.Stats().Late != 1 {
		t.Fatalf("late: %+v", o.Stats())
	}
	want = append(want, AttrWindow{AttrKey{"channel", "b", "VIEW", 10000, base + 40000}, Total{1, 1}})
	for _, includeLate := range []bool{false, true} {
		got, err := AttrWindows(o, &m, "channel", includeLate)
		if err != nil {
			t.Fatal(err)
		}
		if includeLate {
			want[1].Total = Total{3, 9}
		}
		if len(got) != len(want) {
			t.Fatalf("includeLate %v: got %+v", includeLate, got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("includeLate %v: window %d: got %+v, want %+v", includeLate, i, got[i], want[i])
			}
		}
	}
}
