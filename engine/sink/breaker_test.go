package sink

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	ihttp "github.com/influxdata/influxdb-client-go/v2/api/http"
)

func TestBreaker(t *testing.T) {
	var changes []string
	b := newBreaker(3, func(from, to State) { changes = append(changes, from.String()+">"+to.String()) })
	f := func(step string, want State) {
		t.Helper()
		switch step {
		case "fail":
			b.failure()
		case "ok":
			b.success()
		case "probe":
			b.probed()
		}
		if got := b.State(); got != want {
			t.Fatalf("after %s: %s, want %s (changes %v)", step, got, want, changes)
		}
	}
	f("fail", Closed)
	f("fail", Closed)
	f("ok", Closed) // success resets the count
	f("fail", Closed)
	f("fail", Closed)
	f("fail", Open)
	f("probe", HalfOpen)
	f("fail", Open) // one failure while half-open reopens
	f("probe", HalfOpen)
	f("ok", Closed)
	if got, want := fmt.Sprint(changes), "[closed>open open>half-open half-open>open open>half-open half-open>closed]"; got != want {
		t.Fatalf("changes %s, want %s", got, want)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	f := func(n int, base, max, ceil time.Duration) {
		t.Helper()
		for range 200 {
			if d := backoff(n, base, max); d < 0 || d > ceil {
				t.Fatalf("backoff(%d, %s, %s) = %s, want within [0, %s]", n, base, max, d, ceil)
			}
		}
	}
	f(0, 100*time.Millisecond, 5*time.Second, 100*time.Millisecond)
	f(3, 100*time.Millisecond, 5*time.Second, 800*time.Millisecond)
	f(10, 100*time.Millisecond, 5*time.Second, 5*time.Second)
	f(100, 100*time.Millisecond, 5*time.Second, 5*time.Second) // no overflow
}

func TestPermanent(t *testing.T) {
	f := func(err error, want bool) {
		t.Helper()
		if got := Permanent(err); got != want {
			t.Fatalf("Permanent(%v) = %v, want %v", err, got, want)
		}
	}
	status := func(code int) error { return fmt.Errorf("write: %w", &ihttp.Error{StatusCode: code}) }
	f(nil, false)
	f(status(http.StatusBadRequest), true) // field type conflict, bad line
	f(status(http.StatusRequestEntityTooLarge), true)
	f(status(http.StatusUnprocessableEntity), true)
	f(status(http.StatusTooManyRequests), false)
	f(status(http.StatusUnauthorized), false) // configuration, never dead-letter
	f(status(http.StatusNotFound), false)     // database missing
	f(status(http.StatusServiceUnavailable), false)
	f(status(0), false) // connection refused
	f(ihttp.NewError(errors.New("dial tcp: connection refused")), false)
	f(fmt.Errorf("x: %w", context.DeadlineExceeded), false)
	f(errors.New("encoding: invalid field"), true)
}
