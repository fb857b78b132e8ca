package reports

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/sim/oracle"
)

// StoreQuerier returns a Querier that answers Check's stats and top-N
// queries from a Store's totals (summed over dimension sets), for a target
// whose read side is the store alone (`check --from-log --query ""
// --influx-url ...`). It reads every stored window of [from, to) (unix
// ms) in one query, and again when that read is over a second old: Check
// re-asks while the pipeline drains.
func StoreQuerier(st Store, from, to int64) Querier {
	return &storeQuerier{st: st, from: from, to: to}
}

// storeQuerier is StoreQuerier's Querier.
type storeQuerier struct {
	st       Store
	from, to int64

	mu   sync.Mutex
	read time.Time
	ws   []oracle.Window
}

// load returns the stored windows, read at most a second ago.
func (q *storeQuerier) load(ctx context.Context) ([]oracle.Window, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if time.Since(q.read) > time.Second {
		ws, err := q.st.Windows(ctx, q.from, q.to)
		if err != nil {
			return nil, err
		}
		q.ws, q.read = ws, time.Now()
	}
	return q.ws, nil
}

// eachIn calls fn for every window of ws of r's type and size in r's range.
func eachIn(ws []oracle.Window, r client.Range, fn func(w oracle.Window)) {
	from, to, size := r.From.UnixMilli(), r.To.UnixMilli(), r.Window.Milliseconds()
	for _, w := range ws {
		if w.Type == r.Type && w.Size == size && w.Start >= from && w.Start < to {
			fn(w)
		}
	}
}

// Stats implements Querier: a key's count and sum.
func (q *storeQuerier) Stats(ctx context.Context, req client.StatsRequest) (client.StatsResponse, error) {
	out := client.StatsResponse{Key: req.Key, Fn: req.Fn}
	ws, err := q.load(ctx)
	if err != nil {
		return out, err
	}
	eachIn(ws, req.Range, func(w oracle.Window) {
		if w.Key == req.Key {
			out.Count += w.Count
			out.Value += w.Sum
		}
	})
	return out, nil
}

// Top implements Querier: the keys by count, ties by key.
func (q *storeQuerier) Top(ctx context.Context, req client.TopRequest) (client.TopResponse, error) {
	out := client.TopResponse{N: req.N, Exact: true}
	ws, err := q.load(ctx)
	if err != nil {
		return out, err
	}
	counts := map[string]int64{}
	eachIn(ws, req.Range, func(w oracle.Window) { counts[w.Key] += w.Count })
	for k, n := range counts {
		out.Items = append(out.Items, client.TopItem{Key: k, Count: n})
	}
	slices.SortFunc(out.Items, func(a, b client.TopItem) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key)) })
	if req.N > 0 && len(out.Items) > req.N {
		out.Items = out.Items[:req.N]
	}
	return out, nil
}
