package rollup

import (
	"fmt"
	"math"
	"time"
)

// Piece is one part of a planned range: the windows of one size whose
// starts are in [From, To) (unix ms; both multiples of Size).
type Piece struct {
	Size     int64 `json:"-"`
	From, To int64 `json:"-"`
}

// Windows is the number of windows in p.
func (p Piece) Windows() int64 { return (p.To - p.From) / p.Size }

// Plan is how a range is answered: its effective range [From, To) (the
// asked range rounded out to whole windows of the finest granularity
// retained at each edge) and the pieces covering it exactly, oldest first.
type Plan struct {
	From, To int64
	Pieces   []Piece
}

// Windows is the number of windows the plan reads.
func (p Plan) Windows() int64 {
	var n int64
	for _, pc := range p.Pieces {
		n += pc.Windows()
	}
	return n
}

// ExpiredError is a range reaching back before the oldest total still
// retained at any granularity.
type ExpiredError struct {
	// Floor is the oldest retained window start (unix ms) and Window the
	// granularity it is of.
	Floor  int64
	Window time.Duration
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("the range starts before %s, the oldest total still kept (%v totals; older ones are past every retention)",
		time.UnixMilli(e.Floor).UTC().Format(time.RFC3339), e.Window)
}

// zones returns e[i], the start of the span of time where granularity i
// is the finest one used: e[n-1] is the coarsest's floor, and e[i] =
// max(Floor(i) rounded up to the next coarser window, e[i+1]), so that
// zone i = [e[i], e[i-1]) is whole windows of size i and every coarser
// granularity is retained throughout it. math.MinInt64 means forever.
func (c Config) zones(now int64) []int64 {
	n := len(c.Granularities)
	e := make([]int64, n)
	for i := n - 1; i >= 0; i-- {
		f := c.Granularities[i].Floor(now)
		if i < n-1 && f != math.MinInt64 {
			f = ceilTo(f, c.Granularities[i+1].Window.Milliseconds())
		}
		if i < n-1 {
			f = max(f, e[i+1])
		}
		e[i] = f
	}
	return e
}

// Plan plans the range [from, to) (unix ms, from < to) at now: the
// effective range starts at the start of the window holding from of the
// finest granularity retained there, and ends likewise at to; inside it,
// every stretch is read at the coarsest granularity whose whole windows
// fit, finer ones filling the edges. Every piece reads retained windows
// only. Pass now plus the longest a query may take, so a window is not
// dropped while it is being read. A range starting before the coarsest
// granularity's floor is an *ExpiredError.
func (c Config) Plan(from, to, now int64) (Plan, error) {
	e := c.zones(now)
	n := len(c.Granularities)
	if from < e[n-1] {
		return Plan{}, &ExpiredError{Floor: e[n-1], Window: c.Granularities[n-1].Window}
	}
	zone := func(t int64) int {
		for i := range e {
			if t >= e[i] {
				return i
			}
		}
		return n - 1
	}
	size := func(i int) int64 { return c.Granularities[i].Window.Milliseconds() }
	zf, zt := zone(from), zone(to-1)
	p := Plan{From: floorTo(from, size(zf)), To: floorTo(to-1, size(zt)) + size(zt)}
	var fill func(a, b int64, k, i int)
	fill = func(a, b int64, k, i int) {
		if a >= b || k < i {
			return
		}
		s := size(k)
		A, B := ceilTo(a, s), floorTo(b, s)
		if A >= B {
			fill(a, b, k-1, i)
			return
		}
		fill(a, A, k-1, i)
		if l := len(p.Pieces); l > 0 && p.Pieces[l-1].Size == s && p.Pieces[l-1].To == A {
			p.Pieces[l-1].To = B
		} else {
			p.Pieces = append(p.Pieces, Piece{Size: s, From: A, To: B})
		}
		fill(B, b, k-1, i)
	}
	for i := n - 1; i >= 0; i-- {
		a, b := p.From, p.To
		a = max(a, e[i])
		if i > 0 {
			b = min(b, e[i-1])
		}
		fill(a, b, n-1, i)
	}
	return p, nil
}
