package reconcile

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/total"
)

// counter recounts windows from raw event records, as the aggregator
// counts them: decode (JSON or protobuf) and validate, drop malformed
// records, count each event id once per partition (the first record with
// that id wins), and add it to the window total of every size, at
// total.WindowStart, with Sub the partition.
type counter struct {
	v        *event.Validator
	sizes    []int64
	from, to int64 // window starts counted: [from, to), unix ms

	seen   map[int32]map[string]struct{}
	totals map[string]*total.Total
	parts  map[int32]*partRead
	ev     event.Event
	key    []byte

	read, malformed, duplicates, counted int64
}

func newCounter(v *event.Validator, sizes []int64, from, to int64) *counter {
	return &counter{
		v: v, sizes: sizes, from: from, to: to,
		seen:   make(map[int32]map[string]struct{}),
		totals: make(map[string]*total.Total),
		parts:  make(map[int32]*partRead),
	}
}

// partRead is what the recount read of one events partition: end is one
// past the offset of the last data record read (X_p of safety.go; 0 when
// none), maxTS the largest event time of a valid record (M_p; valid is
// false when there is none).
type partRead struct {
	end   int64
	maxTS int64
	valid bool
}

func (c *counter) part(p int32) *partRead {
	pr := c.parts[p]
	if pr == nil {
		pr = &partRead{}
		c.parts[p] = pr
	}
	return pr
}

func (c *counter) add(r *kgo.Record) {
	c.read++
	pr := c.part(r.Partition)
	pr.end = max(pr.end, r.Offset+1)
	c.ev.Reset()
	if _, err := event.Decode(r.Value, &c.ev); err != nil {
		c.malformed++
		return
	}
	if err := c.v.Validate(&c.ev); err != nil {
		c.malformed++
		return
	}
	if !pr.valid || c.ev.TS > pr.maxTS {
		pr.maxTS, pr.valid = c.ev.TS, true
	}
	ids := c.seen[r.Partition]
	if ids == nil {
		ids = make(map[string]struct{})
		c.seen[r.Partition] = ids
	}
	if _, dup := ids[c.ev.ID]; dup {
		c.duplicates++
		return
	}
	ids[c.ev.ID] = struct{}{}
	inRange := false
	var dims string
	for _, size := range c.sizes {
		start := total.WindowStart(c.ev.TS, size)
		if start < c.from || start >= c.to {
			continue
		}
		if !inRange {
			inRange = true
			dims = c.ev.DimSet()
		}
		t := total.Total{Key: c.ev.Key, Type: c.ev.Type, DimSet: dims, Sub: int(r.Partition), Start: start, Size: size}
		c.key = t.AppendRecordKey(c.key[:0])
		cur, ok := c.totals[string(c.key)]
		if !ok {
			cur = &t
			c.totals[string(c.key)] = cur
		}
		cur.Add(c.ev.Value)
	}
	if inRange {
		c.counted++
	}
}

// lateCounter counts the distinct events (by id) of the late topic whose
// window, of any size, starts in the range: how many reached the engine
// after their window's allowed lateness. They are in the events topic too,
// so the recount already has them.
type lateCounter struct {
	c     *counter // for the validator, sizes and range
	seen  map[string]struct{}
	ev    event.Event
	count int64
}

func (l *lateCounter) add(r *kgo.Record) {
	l.ev.Reset()
	if _, err := event.Decode(r.Value, &l.ev); err != nil || l.c.v.Validate(&l.ev) != nil {
		return
	}
	if _, dup := l.seen[l.ev.ID]; dup {
		return
	}
	l.seen[l.ev.ID] = struct{}{}
	for _, size := range l.c.sizes {
		if s := total.WindowStart(l.ev.TS, size); s >= l.c.from && s < l.c.to {
			l.count++
			return
		}
	}
}
