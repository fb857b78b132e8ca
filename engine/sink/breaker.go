package sink

import "sync/atomic"

// State is the circuit breaker's state.
type State int32

// Breaker states. While Open the sink fetches nothing, commits nothing and
// probes InfluxDB's health; a good probe moves it to HalfOpen, where one
// write decides between Closed and Open again.
const (
	Closed State = iota
	HalfOpen
	Open
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	}
	return "unknown"
}

// breaker counts consecutive failures; it is driven by one goroutine and
// read by any.
type breaker struct {
	threshold int
	failures  int
	state     atomic.Int32
	onChange  func(from, to State)
}

func newBreaker(threshold int, onChange func(from, to State)) *breaker {
	return &breaker{threshold: threshold, onChange: onChange}
}

func (b *breaker) State() State { return State(b.state.Load()) }

func (b *breaker) set(to State) {
	from := State(b.state.Swap(int32(to)))
	if from != to && b.onChange != nil {
		b.onChange(from, to)
	}
}

// success records a successful call: the breaker closes.
func (b *breaker) success() {
	b.failures = 0
	b.set(Closed)
}

// failure records a failed call; it reports whether the breaker is open.
func (b *breaker) failure() bool {
	b.failures++
	if b.State() == HalfOpen || b.failures >= b.threshold {
		b.set(Open)
	}
	return b.State() == Open
}

// probed records a good health probe while open: the next call is a trial.
func (b *breaker) probed() {
	if b.State() == Open {
		b.set(HalfOpen)
	}
}
