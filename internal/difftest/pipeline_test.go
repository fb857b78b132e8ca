package difftest

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/total"
	"github.com/countlab/countlab/sim/oracle"
)

// stream is n inputs whose reference time advances by step from start,
// mostly countable, most in their canonical partition and some in a
// random one (so they are moved).
func stream(seed uint64, n int, start, step int64, parts int32) []input {
	g := newGen(seed, start)
	g.clean = true
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]input, n)
	for i := range out {
		g.ref = start + int64(i)*step
		in := g.next()
		in.ref = g.ref
		in.partition = r.Int32N(parts)
		if r.IntN(10) < 6 {
			var e event.Event
			if _, err := event.Decode(in.value, &e); err == nil {
				in.partition = kafka.Partition([]byte(e.Key), parts)
			}
		}
		out[i] = in
	}
	return out
}

// engineWindows is the engine's final totals (the last committed total of
// every record key of the aggregates topic), summed over sub-keys.
func engineWindows(t testing.TB, recs []*kgo.Record) map[oracle.WindowKey]oracle.Total {
	t.Helper()
	last := map[string]total.Total{}
	for _, r := range recs {
		tt, err := total.Unmarshal(r.Value)
		if err != nil {
			t.Fatalf("aggregates record %q: %v", r.Value, err)
		}
		last[string(r.Key)] = tt
	}
	out := map[oracle.WindowKey]oracle.Total{}
	for _, tt := range last {
		k := oracle.WindowKey{Size: tt.Size, Start: tt.Start, Type: tt.Type, Key: tt.Key, DimSet: tt.DimSet}
		w := out[k]
		w.Count += tt.Count
		w.Sum += tt.Sum
		out[k] = w
	}
	return out
}

// compareWithOracle feeds the events topic as the engine left it (moved
// copies included) to the oracle's log mode and compares every window, the
// dead-letter reason codes and the late count with the engine's output.
func compareWithOracle(t testing.TB, k *cluster) *oracle.Oracle {
	t.Helper()
	_, o := newPair(t, k.parts)
	for _, r := range k.read(t, k.topics.Events) {
		rec := oracle.Record{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(), Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			rec.Headers = append(rec.Headers, oracle.Header{Key: h.Key, Value: h.Value})
		}
		o.AddRecord(rec)
	}
	got := engineWindows(t, k.read(t, k.topics.Aggregates))
	bad := 0
	report := func(format string, args ...any) {
		if bad++; bad <= 15 {
			t.Errorf(format, args...)
		}
	}
	for _, w := range o.Windows(oracle.ByDimSet, false) {
		g, ok := got[w.WindowKey]
		delete(got, w.WindowKey)
		if !ok || g != w.Total {
			report("window %+v: engine count %d sum %v, oracle count %d sum %v", w.WindowKey, g.Count, g.Sum, w.Count, w.Sum)
		}
	}
	for k, g := range got {
		if g.Count != 0 {
			report("window %+v: engine count %d sum %v, not in the oracle", k, g.Count, g.Sum)
		}
	}
	st := o.Stats()
	codes := map[string]int64{}
	for _, r := range k.read(t, k.topics.DeadLetter) {
		if kafka.Header(r, kafka.HeaderOrigin) == "" {
			continue // the gateway's, never in the events topic
		}
		code := "(none)"
		for _, h := range r.Headers {
			if h.Key == event.HeaderReasonCode {
				code = string(h.Value)
			}
		}
		codes[code]++
	}
	for _, c := range append([]string{"(none)"}, oracle.Codes...) {
		if codes[c] != st.Refused[c] {
			report("dead-letter code %s: engine %d, oracle %d", c, codes[c], st.Refused[c])
		}
	}
	// The first copy in the log wins, on time or too late: the late topic
	// holds exactly the oracle's late events (a too-late repeat of a
	// counted or late event is a duplicate, not a late record).
	if late := int64(len(k.read(t, k.topics.Late))); late != st.Late {
		report("late: engine %d records, oracle %d late events (and %d duplicates)", late, st.Late, st.Duplicates)
	}
	if bad > 15 {
		t.Errorf("... %d differences in all", bad)
	}
	return o
}

// TestEngineVsOracle runs the real engine worker on kfake over a stream of
// mostly countable events (out of order, late, duplicates with other
// payloads, special characters, in the wrong partitions) with some
// malformed ones, and wants every window, dead-letter code and late count
// to equal the oracle's.
func TestEngineVsOracle(t *testing.T) {
	const parts = 3
	n := 3000
	if testing.Short() {
		n = 1000
	}
	k := newCluster(t, parts)
	start := time.Now().Add(-10 * time.Minute).UnixMilli()
	ins := stream(42, n, start, 150, parts)
	k.produce(t, ins)
	k.startWorker(t, "difftest-"+strconv.Itoa(n))
	k.waitCommitted(t, 60*time.Second)
	st := compareWithOracle(t, k).Stats()
	t.Logf("%d records: %d distinct counted, %d duplicates, %d late, %d moved, refused %v", n, st.Distinct, st.Duplicates, st.Late, st.Moved, st.Refused)
	if st.Distinct < int64(n)/4 || st.Duplicates == 0 || st.Late == 0 || st.Moved == 0 {
		t.Errorf("the stream does not exercise the engine: %+v", st)
	}
}
