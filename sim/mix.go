package sim

import (
	"context"
	"sync"
)

// Mix sends each item through the transport of its route: Mix[i] sends
// the items whose Route is i, in their order (a same-id pair, which the
// generator keeps on one route, stays in order). One batch is split into
// one sub-batch per route, sent at once; Send returns the first error.
// Every route's transport must send the format Config.Routes gives it.
type Mix []Transport

// Send implements Transport.
func (m Mix) Send(ctx context.Context, items []Item, out []Outcome) error {
	if len(m) == 1 {
		return m[0].Send(ctx, items, out)
	}
	idx := make([][]int, len(m))
	for i := range items {
		r := int(items[i].Route)
		if r >= len(m) {
			r = 0
		}
		idx[r] = append(idx[r], i)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(m))
	for r, ix := range idx {
		if len(ix) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub := make([]Item, len(ix))
			for j, i := range ix {
				sub[j] = items[i]
			}
			o := make([]Outcome, len(ix))
			errs[r] = m[r].Send(ctx, sub, o)
			for j, i := range ix {
				out[i] = o[j]
				items[i].Code, items[i].Acked = sub[j].Code, sub[j].Acked
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
