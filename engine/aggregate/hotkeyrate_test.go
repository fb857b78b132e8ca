package aggregate

import (
	"testing"
	"time"

	"github.com/countlab/countlab/engine/kafka"
)

// TestHotKeyNeedsTraffic: a key with all of a partition's events is hot
// only when the partition carries at least minHotKeyEventsPerS; at a
// trickle it is not reported (no gauge, no log line).
func TestHotKeyNeedsTraffic(t *testing.T) {
	w, err := New(Conn(kafka.Conn{Brokers: []string{"127.0.0.1:1"}}), Windows(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p := newPartition(0, 1000, now)
	p.m = w.m.forPartition(0)
	w.parts[0] = p
	feed := func(n int) { // n events of key k, sampled as the worker samples
		for range n >> defaultHotKeySampleLog {
			p.hot.observe("k")
		}
		p.events = int64(n)
	}
	w.lastReport = now
	feed(minHotKeyEventsPerS / 2) // in 1 s, every one of key k
	now = now.Add(reportInterval)
	w.report(now)
	if hk := w.HotKeys(); len(hk) != 0 {
		t.Fatalf("at %d events/s: hot keys %v", minHotKeyEventsPerS/2, hk)
	}
	feed(2 * minHotKeyEventsPerS)
	now = now.Add(reportInterval)
	w.report(now)
	if hk := w.HotKeys(); len(hk) != 1 || hk[0].Key != "k" {
		t.Fatalf("at %d events/s: hot keys %v, want k", 2*minHotKeyEventsPerS, hk)
	}
}
