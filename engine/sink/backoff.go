package sink

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is the wait before retry attempt n (0-based): uniformly random in
// [0, min(max, base*2^n)] ("full jitter"), so retrying sinks spread out.
func backoff(n int, base, max time.Duration) time.Duration {
	d := max
	if n < 30 {
		if e := base << n; e > 0 && e < max {
			d = e
		}
	}
	return rand.N(d + 1)
}

// sleep waits d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
