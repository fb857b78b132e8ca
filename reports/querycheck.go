package reports

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/sim/oracle"
)

// Querier is the part of the query client the checker uses.
type Querier interface {
	Stats(ctx context.Context, req client.StatsRequest) (client.StatsResponse, error)
	Top(ctx context.Context, req client.TopRequest) (client.TopResponse, error)
}

// maxTopN is the query service's default top-N limit: windows with fewer
// keys than this are also checked for keys the truth does not have.
const maxTopN = 1000

func statsRequest(w oracle.Window) client.StatsRequest {
	return client.StatsRequest{Key: w.Key, Fn: "sum", Range: client.Range{Type: w.Type, From: msTime(w.Start), To: msTime(w.End()),
		Window: time.Duration(w.Size) * time.Millisecond}}
}

// checkQuery compares the truth's windows (ByKey) with the query service,
// draining first when cfg.Drain is set; it also returns the number of
// unexpected keys found.
func checkQuery(ctx context.Context, want []oracle.Window, q Querier, cfg CheckConfig) (WindowCheck, int, error) {
	c := WindowCheck{WindowsChecked: len(want)}
	if cfg.Drain > 0 {
		deadline := time.Now().Add(cfg.Drain)
		off := want
		for {
			got, err := queryAll(ctx, q, off, cfg.Parallel)
			if err != nil {
				return c, 0, err
			}
			var still []oracle.Window
			for i, w := range off {
				if got[i].Count != w.Count || got[i].Value != w.Sum {
					still = append(still, w)
				}
			}
			if cfg.Progress != nil {
				cfg.Progress(len(still), len(want))
			}
			if len(still) == 0 || time.Now().After(deadline) {
				break
			}
			off = still
			select {
			case <-ctx.Done():
				return c, 0, ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	got, err := queryAll(ctx, q, want, cfg.Parallel)
	if err != nil {
		return c, 0, err
	}
	var smallest string
	if len(want) > 0 {
		smallest = sizeName(want[0].Size) // sorted by size first
	}
	var diffs []WindowDiff
	for i, w := range want {
		g := got[i]
		if w.Size == want[0].Size {
			c.CountedEvents += g.Count
		}
		if g.Count != w.Count || g.Value != w.Sum {
			diffs = append(diffs, WindowDiff{Source: "query", Window: sizeName(w.Size), Type: w.Type, Key: w.Key, Start: msTime(w.Start),
				WantCount: w.Count, GotCount: g.Count, WantSum: w.Sum, GotSum: g.Value})
		}
	}
	extra, err := unexpectedKeys(ctx, q, want, cfg.KeyPrefix, cfg.Rolling.before())
	if err != nil {
		return c, 0, err
	}
	c.UnexpectedWindows = len(extra)
	for _, d := range extra {
		c.CountedEvents += d.GotCount
	}
	c.finish(append(diffs, extra...), smallest, cfg.Shared)
	return c, len(extra), nil
}

// queryAll asks for the count and sum of every window, parallel queries
// in flight; a 503 (InfluxDB unavailable) is retried.
func queryAll(ctx context.Context, q Querier, ws []oracle.Window, parallel int) ([]client.StatsResponse, error) {
	out := make([]client.StatsResponse, len(ws))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for p := 0; p < min(parallel, len(ws)); p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				w := ws[i]
				req := statsRequest(w)
				var err error
				for attempt := 0; attempt < 20; attempt++ {
					out[i], err = q.Stats(ctx, req)
					if err == nil || !client.IsUnavailable(err) || ctx.Err() != nil {
						break
					}
					time.Sleep(250 * time.Millisecond)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("checking %s %s %s window %s: %w", sizeName(w.Size), w.Type, w.Key, msTime(w.Start).Format(time.RFC3339), err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range ws {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, ctx.Err()
}

// unexpectedKeys asks, for every (type, window) of the smallest size whose
// truth has fewer than maxTopN keys, for the top maxTopN keys, and returns
// the keys the truth does not expect there. With a prefix, only keys that
// start with it are this run's (another run may share the window). Windows
// that start before checked[size] are left out (the rolling check looked
// at them).
func unexpectedKeys(ctx context.Context, q Querier, want []oracle.Window, prefix string, checked map[int64]int64) ([]WindowDiff, error) {
	if len(want) == 0 {
		return nil, nil
	}
	type tw struct {
		typ   string
		start int64
	}
	size := want[0].Size
	keys := map[tw]map[string]bool{}
	for _, w := range want {
		if w.Size != size {
			break
		}
		if b, ok := checked[size]; ok && w.Start < b {
			continue
		}
		k := tw{w.Type, w.Start}
		if keys[k] == nil {
			keys[k] = map[string]bool{}
		}
		keys[k][w.Key] = true
	}
	var out []WindowDiff
	for k, ks := range keys {
		if len(ks) >= maxTopN {
			continue
		}
		rng := client.Range{Type: k.typ, From: msTime(k.start), To: msTime(k.start + size), Window: time.Duration(size) * time.Millisecond}
		top, err := q.Top(ctx, client.TopRequest{N: maxTopN, Range: rng})
		if err != nil {
			return nil, fmt.Errorf("top keys of %s %s window %s: %w", sizeName(size), k.typ, rng.From.Format(time.RFC3339), err)
		}
		for _, it := range top.Items {
			if !ks[it.Key] && it.Count != 0 && strings.HasPrefix(it.Key, prefix) {
				out = append(out, WindowDiff{Source: "query", Window: sizeName(size), Type: k.typ, Key: it.Key, Start: rng.From, GotCount: it.Count})
			}
		}
	}
	slices.SortFunc(out, func(a, b WindowDiff) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Key, b.Key))
	})
	return out, nil
}
