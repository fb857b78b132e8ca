package reports

import (
	"context"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/sim/oracle"
)

// countingStore is a fakeStore that counts its reads.
type countingStore struct {
	fakeStore
	reads int
}

func (s *countingStore) Windows(ctx context.Context, from, to int64) ([]oracle.Window, error) {
	s.reads++
	return s.fakeStore.Windows(ctx, from, to)
}

// TestStoreQuerier: the store-only read side sums a key over dimension
// sets and windows of the asked type, size and range, ranks top-N by count
// then key, and reads the store once for many questions.
func TestStoreQuerier(t *testing.T) {
	const m = int64(60_000)
	w := func(start int64, typ, key, dims string, n int64) oracle.Window {
		return oracle.Window{WindowKey: oracle.WindowKey{Size: m, Start: start, Type: typ, Key: key, DimSet: dims}, Total: oracle.Total{Count: n, Sum: float64(2 * n)}}
	}
	st := &countingStore{fakeStore: fakeStore{ws: []oracle.Window{
		w(0, "VIEW", "a", "", 3), w(0, "VIEW", "a", "c=x", 2), w(m, "VIEW", "a", "", 1),
		w(0, "VIEW", "b", "", 6), w(0, "VIEW", "c", "", 6), w(0, "CLICK", "a", "", 100),
		{WindowKey: oracle.WindowKey{Size: 2 * m, Start: 0, Type: "VIEW", Key: "a"}, Total: oracle.Total{Count: 50}},
	}}}
	q := StoreQuerier(st, 0, 2*m)
	r := client.Range{Type: "VIEW", From: time.UnixMilli(0), To: time.UnixMilli(m), Window: time.Minute}
	s, err := q.Stats(t.Context(), client.StatsRequest{Key: "a", Fn: "sum", Range: r})
	if err != nil || s.Count != 5 || s.Value != 10 {
		t.Fatalf("stats a: %+v %v, want count 5 sum 10 (both dimension sets, one window)", s, err)
	}
	r.To = time.UnixMilli(2 * m)
	if s, _ = q.Stats(t.Context(), client.StatsRequest{Key: "a", Range: r}); s.Count != 6 {
		t.Errorf("stats a over two windows: %d, want 6", s.Count)
	}
	top, err := q.Top(t.Context(), client.TopRequest{N: 2, Range: r})
	if err != nil || len(top.Items) != 2 || top.Items[0] != (client.TopItem{Key: "a", Count: 6}) || top.Items[1] != (client.TopItem{Key: "b", Count: 6}) || !top.Exact {
		t.Errorf("top 2: %+v %v, want a 6, b 6 (a, b and c tie: by key), exact", top, err)
	}
	if st.reads != 1 {
		t.Errorf("%d store reads for three questions within a second, want 1", st.reads)
	}
}
