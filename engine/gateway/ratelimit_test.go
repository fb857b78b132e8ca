package gateway

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRateLimiter: the token bucket admits up to its burst at once, then
// at its rate; a batch larger than the burst fits a full bucket and
// leaves it in debt.
func TestRateLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newRateLimiter(&cfg{rateLimit: 100, rateBurst: 50})
	l.now = func() time.Time { return now }
	f := func(n int, wantOK bool, wantWait time.Duration) {
		t.Helper()
		ok, wait := l.take(n)
		if ok != wantOK || (wait-wantWait).Abs() > time.Millisecond {
			t.Fatalf("take(%d) at %s = %v, %s; want %v, %s", n, now.Format(time.StampMilli), ok, wait, wantOK, wantWait)
		}
	}
	f(50, true, 0)
	f(1, false, 10*time.Millisecond)
	now = now.Add(100 * time.Millisecond) // 10 tokens
	f(20, false, 100*time.Millisecond)
	f(10, true, 0)
	now = now.Add(time.Hour) // full again, never above the burst
	f(200, true, 0)          // a batch larger than the burst: -150 left
	f(1, false, 1510*time.Millisecond)
	l.refund(100)
	f(1, false, 510*time.Millisecond)
	if newRateLimiter(&cfg{}) != nil {
		t.Error("a limiter without a rate")
	}
	if d := newRateLimiter(&cfg{rateLimit: 300}); d.burst != 300 {
		t.Errorf("default burst %v, want one second's worth (300)", d.burst)
	}
	if got := retryAfterSeconds(1510 * time.Millisecond); got != "2" {
		t.Errorf("Retry-After %q, want 2", got)
	}
	if got := retryAfterSeconds(0); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
}

// TestRateLimit429: over the rate limit a batch is answered 429 with
// Retry-After and nothing of it is produced; once tokens are back it is
// accepted.
func TestRateLimit429(t *testing.T) {
	c, topics := newCluster(t)
	_, srv := newServer(t, c, topics, MaxBatch(20), MaxInFlight(100), RateLimit(40, 20))
	if r := post(t, srv.URL, "application/json", events("first", 20), ""); r.code != http.StatusOK || r.resp.Accepted != 20 {
		t.Fatalf("first batch: status %d %s, want 200", r.code, r.raw)
	}
	r := post(t, srv.URL, "application/json", events("second", 10), "")
	if r.code != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" || !strings.Contains(r.resp.Error, "rate limit of 40 events/s") {
		t.Fatalf("second batch: status %d, Retry-After %q: %s; want 429 with Retry-After 1", r.code, r.header.Get("Retry-After"), r.raw)
	}
	for _, rec := range consumeAll(t, c, topics.Events, 20) {
		if bytes.Contains(rec.Value, []byte("second")) {
			t.Fatalf("an event of the refused batch was produced: %s", rec.Value)
		}
	}
	time.Sleep(300 * time.Millisecond) // 12 tokens
	if r := post(t, srv.URL, "application/json", events("second", 10), ""); r.code != http.StatusOK || r.resp.Accepted != 10 {
		t.Fatalf("retry: status %d %s, want 200", r.code, r.raw)
	}
	consumeAll(t, c, topics.Events, 30)
	if _, err := New(Kafka(kafkaConn("127.0.0.1:1")), RateLimit(-1, 0)); err == nil || !strings.Contains(err.Error(), "RateLimit") {
		t.Errorf("RateLimit(-1): %v, want an error naming RateLimit", err)
	}
}
