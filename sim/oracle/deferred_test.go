package oracle

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// TestDeferredMatchesDirect feeds one stream to a truth whose identity
// set is in parts (a hint: AddAll queues the acknowledged events,
// deferred.go), in batches, and to one without a hint, event by event
// (Add, looked up at once), and holds every answer equal: windows, late
// windows, stats, identities, the windows taken mid-stream, and the
// copy that wins. The stream has repeats that differ from their first
// copy in type, time and value (the first acknowledged copy must win),
// repeats of refused and failed copies, late events, and reads between
// batches (each settles the queues).
func TestDeferredMatchesDirect(t *testing.T) {
	cfg := func(hint int) Config {
		return Config{Windows: []time.Duration{10 * time.Second, time.Minute}, Identities: hint}
	}
	queued, err := New(cfg(1 << 20))
	if err != nil {
		t.Fatal(err)
	}
	direct, err := New(cfg(0))
	if err != nil {
		t.Fatal(err)
	}
	if !queued.deferring() || direct.deferring() {
		t.Fatalf("deferring: %v with a hint, %v without", queued.deferring(), direct.deferring())
	}
	r := rand.New(rand.NewPCG(3, 4))
	const n = 300_000
	evs := make([]Event, n)
	ss := make([]Sent, n)
	for i := range evs {
		id := i
		if i > 0 && r.IntN(10) == 0 {
			id = r.IntN(i) // a repeat of an earlier id (same key below)
		}
		e := Event{ID: "e-" + strconv.Itoa(id), Key: "k" + strconv.Itoa(id%1000), Type: "VIEW",
			TS: ref - 120_000 + int64(i)/3, Value: float64(r.IntN(100)), HasValue: true}
		if r.IntN(7) == 0 {
			e.Type = "CLICK" // a repeat may differ from its first copy
		}
		evs[i] = e
		s := Sent{Event: &evs[i], Ref: ref, Acked: r.IntN(20) != 0, Late: r.IntN(50) == 0}
		if !s.Acked && r.IntN(2) == 0 {
			s.Code = CodeFieldMissing
			evs[i].ID = "" // refused: no id
		}
		ss[i] = s
	}
	for i := 0; i < n; {
		m := min(1+r.IntN(700), n-i)
		queued.AddAll(ss[i : i+m])
		for j := i; j < i+m; j++ {
			direct.Add(ss[j])
		}
		i += m
		if r.IntN(40) == 0 {
			if a, b := queued.Stats(), direct.Stats(); !reflect.DeepEqual(a, b) {
				t.Fatalf("after %d events: stats %+v, direct %+v", i, a, b)
			}
		}
		if i > n/2 && i-m <= n/2 { // take the first minute's windows once, mid-stream
			at := time.UnixMilli(ref - 60_000)
			qw, qt := queued.TakeFinal(at)
			dw, dt := direct.TakeFinal(at)
			if !reflect.DeepEqual(qw, dw) || !reflect.DeepEqual(qt, dt) || len(qw) == 0 {
				t.Fatalf("taken mid-stream: %d windows %v, direct %d %v", len(qw), qt, len(dw), dt)
			}
		}
	}
	for _, late := range []bool{false, true} {
		if a, b := queued.Windows(ByDimSet, late), direct.Windows(ByDimSet, late); !reflect.DeepEqual(a, b) {
			t.Fatalf("windows (late %v): %d, direct %d", late, len(a), len(b))
		}
	}
	a, b := queued.Stats(), direct.Stats()
	if !reflect.DeepEqual(a, b) || a.Duplicates == 0 || a.Late == 0 || a.Distinct == 0 {
		t.Fatalf("stats %+v, direct %+v", a, b)
	}
	if queued.Identities() != direct.Identities() {
		t.Fatalf("identities %d, direct %d", queued.Identities(), direct.Identities())
	}
}
