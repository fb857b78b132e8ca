package gateway

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"
)

// RateLimit caps admission at eventsPerS events a second over all
// requests, with bursts of up to burst events (0: one second's worth): a
// token bucket, the gateway's explicit capacity. A batch of n events is
// admitted when the bucket holds min(n, burst) tokens, and takes n (the
// bucket may go below zero for a batch larger than burst, so the long-run
// rate holds); otherwise it is answered 429 with a Retry-After of the
// seconds until it would fit, and nothing of it is produced. eventsPerS 0
// (the default) means no rate limit.
func RateLimit(eventsPerS float64, burst int) Opt {
	return opt(func(c *cfg) { c.rateLimit, c.rateBurst = eventsPerS, burst })
}

// rateErr checks the RateLimit settings (nil when fine).
func (c *cfg) rateErr() error {
	if c.rateLimit < 0 || math.IsNaN(c.rateLimit) || math.IsInf(c.rateLimit, 0) {
		return fmt.Errorf("RateLimit events/s must be >= 0 and finite, got %v", c.rateLimit)
	}
	if c.rateBurst < 0 {
		return fmt.Errorf("RateLimit burst must be >= 0, got %d", c.rateBurst)
	}
	return nil
}

// rateLimiter is the token bucket of RateLimit; nil means no limit.
type rateLimiter struct {
	rate  float64 // tokens a second
	burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
	now    func() time.Time
}

// newRateLimiter is the limiter of c, nil without a rate limit.
func newRateLimiter(c *cfg) *rateLimiter {
	if c.rateLimit <= 0 {
		return nil
	}
	burst := float64(c.rateBurst)
	if burst <= 0 {
		burst = math.Max(1, c.rateLimit)
	}
	return &rateLimiter{rate: c.rateLimit, burst: burst, tokens: burst, now: time.Now}
}

// take admits n events, or says how long until they would fit.
func (l *rateLimiter) take(n int) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() {
		l.tokens = math.Min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	need := math.Min(float64(n), l.burst)
	if l.tokens >= need {
		l.tokens -= float64(n)
		return true, 0
	}
	return false, time.Duration((need - l.tokens) / l.rate * float64(time.Second))
}

// refund gives back the n tokens of an admitted batch that was refused
// after all (by the in-flight limit).
func (l *rateLimiter) refund(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tokens = math.Min(l.burst, l.tokens+float64(n))
}

// retryAfterSeconds is a Retry-After value for wait: whole seconds,
// rounded up, at least 1.
func retryAfterSeconds(wait time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
}
