package oracle

import (
	"encoding/binary"
	"hash/fnv"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkAdd is the oracle's cost per acknowledged event as the harness
// pays it at a steady rate: 10,000 keys, one event type, no dimensions,
// event times a millisecond apart, one in ten a repeat of an earlier id.
// grow starts with an empty identity table, sized with one made for the
// events to come (Config.Identities, as a run does); run with a large
// -benchtime (3000000x is steady-50k) to see the table outgrow the caches.
func BenchmarkAdd(b *testing.B) {
	b.Run("grow", func(b *testing.B) { benchmarkAdd(b, 0) })
	b.Run("sized", func(b *testing.B) { benchmarkAdd(b, b.N) })
}

// BenchmarkAddAll is BenchmarkAdd's events told a sender's batch at a
// time (Oracle.AddAll, 500 a batch as steady-50k's sender hands them), the
// identity table sized for them.
func BenchmarkAddAll(b *testing.B) {
	o, evs, ids := benchOracle(b, b.N)
	const batch = 500
	ss := make([]Sent, 0, batch)
	es := make([]Event, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		e := &es[len(ss)]
		*e = evs[i&(len(evs)-1)]
		e.ID = ids[benchID(i)]
		ss = append(ss, Sent{Event: e, Ref: ref, Acked: true})
		if len(ss) == batch || i == b.N-1 {
			o.AddAll(ss)
			ss = ss[:0]
		}
	}
}

// benchID is the id index of BenchmarkAdd's i-th event: one in ten a
// repeat of an earlier one.
func benchID(i int) int {
	if i%10 == 9 {
		return i / 2
	}
	return i
}

// benchOracle is BenchmarkAdd's oracle and events: 10,000 keys, event
// times a millisecond apart, n ids.
func benchOracle(b *testing.B, identities int) (*Oracle, []Event, []string) {
	o, err := New(Config{Windows: []time.Duration{10 * time.Second, time.Minute}, Identities: identities})
	if err != nil {
		b.Fatal(err)
	}
	const keys = 10000
	names := make([]string, keys)
	for i := range names {
		names[i] = "video-" + strconv.Itoa(i)
	}
	evs := make([]Event, 1<<16)
	for i := range evs {
		evs[i] = Event{Key: names[(i*7919)%keys], Type: "VIEW", TS: ref - 60_000 + int64(i%60_000)}
	}
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = "0190a7c3-8c1e-7b3e-" + strconv.Itoa(1e12+i)
	}
	return o, evs, ids
}

func benchmarkAdd(b *testing.B, identities int) {
	o, evs, ids := benchOracle(b, identities)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		e := evs[i&(len(evs)-1)]
		e.ID = ids[benchID(i)]
		o.Add(Sent{Event: &e, Ref: ref, Acked: true})
	}
}

// TestIdentityIsFNV holds identity to hash/fnv's FNV-128a of the same
// bytes (identities saved by one version are read by another).
func TestIdentityIsFNV(t *testing.T) {
	for _, c := range [][2]string{{"", ""}, {"k", "e1"}, {"video-42", "0190a7c3-8c1e-7b3e-9d1a-3f6c2b8e4d10"}, {"ké\x00", "\xff"}, {strings.Repeat("k", 300), "i"}} {
		h := fnv.New128a()
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(c[0])))
		h.Write(n[:])
		h.Write([]byte(c[0]))
		h.Write([]byte(c[1]))
		sum := h.Sum(nil)
		want := fingerprint{binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:])}
		if got := identity(c[0], c[1]); got != want {
			t.Errorf("identity(%q, %q) = %x, hash/fnv %x", c[0], c[1], got, want)
		}
	}
}

// TestSeenInsert holds seenInsert to a model of the contract (a map per
// generation; a generation closes when a new identity's ref is a whole
// IdentityGeneration past the generation's first): the same answers and
// the same generations.
func TestSeenInsert(t *testing.T) {
	type gen struct {
		from, maxRef int64
		ids          map[fingerprint]bool
	}
	const g = 10_000
	var gens []*gen
	o := newOracle(t, Config{IdentityGeneration: g * time.Millisecond})
	for i := range 50000 {
		id := identity("k", strconv.Itoa((i*7)%9000+i/4000))
		if i == 777 {
			id = fingerprint{} // the free-slot marker is an identity too
		}
		r := ref + int64(i)*3
		want := true
		for _, gn := range gens {
			want = want && !gn.ids[id]
		}
		if want {
			if len(gens) == 0 || r >= gens[len(gens)-1].from+g {
				gens = append(gens, &gen{from: r, maxRef: r, ids: map[fingerprint]bool{}})
			}
			cur := gens[len(gens)-1]
			cur.ids[id], cur.maxRef = true, max(cur.maxRef, r)
		}
		if got := o.seenInsert(id, r); got != want {
			t.Fatalf("event %d: seenInsert %v, want %v", i, got, want)
		}
		if !o.seenHas(id) {
			t.Fatalf("event %d: not held after seenInsert", i)
		}
	}
	if len(o.oldSeen)+1 != len(gens) {
		t.Fatalf("%d generations, want %d", len(o.oldSeen)+1, len(gens))
	}
	total := 0
	for i, gn := range gens {
		total += len(gn.ids)
		if i < len(o.oldSeen) && (o.oldSeen[i].maxRef != gn.maxRef || o.oldSeen[i].ids.len() != len(gn.ids)) {
			t.Fatalf("generation %d: maxRef %d, %d ids; want %d, %d", i, o.oldSeen[i].maxRef, o.oldSeen[i].ids.len(), gn.maxRef, len(gn.ids))
		}
	}
	if o.seenLen() != total {
		t.Fatalf("%d identities, want %d", o.seenLen(), total)
	}
	n := 0
	o.eachSeen(func(id fingerprint) {
		n++
		if !o.seenHas(id) {
			t.Fatalf("eachSeen gave %x, not held", id)
		}
	})
	if n != total {
		t.Fatalf("eachSeen gave %d, want %d", n, total)
	}
}
