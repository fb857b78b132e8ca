package sink_test

import (
	"testing"
	"time"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/engine/total"
)

// The linger gathers the totals of several transactions into one batch:
// each window's newest committed total is written once, and what lands in
// the real InfluxDB is exactly the last committed version of every window
// (an aborted transaction in the middle changes nothing).
func TestSinkLingerCoalescesAcrossPolls(t *testing.T) {
	_, ic := sharedInflux(t)
	addrs := newKafka(t)
	ctx := ctxT(t, 90*time.Second)
	p := newTxnProducer(t, addrs, "agg-linger")

	s := startSink(t, addrs, ic, sink.Linger(3*time.Second))
	const n, versions = 60, 5
	for v := 1; v <= versions; v++ {
		if err := p.txn(ctx, windowsAt(n, v), true); err != nil {
			t.Fatal(err)
		}
		if v == 3 {
			if err := p.txn(ctx, windowsAt(n, 99), false); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(50 * time.Millisecond) // separate polls
	}
	final := windowsAt(n, versions)
	want := truthOf(final...)
	waitEqual(t, ic, want, 60*time.Second)
	s.stop(t)
	st := s.Stats()
	t.Logf("stats %+v", st)
	if st.Consumed < n*versions {
		t.Fatalf("consumed %d totals, want >= %d", st.Consumed, n*versions)
	}
	// Five versions of every window within one linger: at most two
	// batches on a loaded machine, so at most two points per window.
	if st.Written > 2*n {
		t.Fatalf("wrote %d points for %d windows x %d versions: the linger did not coalesce", st.Written, n, versions)
	}
	if d := diff(stored(t, ic), want); d != "" {
		t.Fatalf("after stopping:\n%s", d)
	}
}

// windowsAt is windows 0..n-1 at version v.
func windowsAt(n, v int) []total.Total {
	out := make([]total.Total, 0, n)
	for i := range n {
		out = append(out, gen(i, v))
	}
	return out
}

func TestSinkLingerValidated(t *testing.T) {
	_, err := sink.New(sink.Kafka(kafka.Conn{Brokers: []string{"127.0.0.1:9"}}),
		sink.Influx(influx.Config{URL: "http://127.0.0.1:9", Bucket: "db/autogen"}), sink.Linger(-time.Second))
	if err == nil {
		t.Fatal("a negative linger was accepted")
	}
}
