package reconcile

import (
	"fmt"
	"math"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/total"
)

// counter recounts windows from raw event records by the engine's rules
// (docs/ingest-contract.md): decode (JSON or protobuf) and validate with
// the record timestamp as the reference time (ValidateAt), drop malformed
// records, count each event at its canonical partition only
// (kafka.Partition of the canonical record key, with the hot-key split),
// each identity (key, id) once per canonical partition (the first record
// in that partition's log wins), and add it to the window total of every
// size, at total.WindowStart, with Sub the canonical partition.
//
// A record found outside its canonical partition is an original the engine
// moves (aggregate: it produces a copy with kafka.HeaderMovedFrom =
// "PARTITION/OFFSET" to the canonical partition and counts the copy). Such
// originals are held until the whole topic is read (finish): one whose
// copy was read is skipped (the copy was counted in its place); one
// without a copy yet (the engine has not reached it) is counted at its
// canonical partition after every record read there, where its copy will
// be. A copy is counted where it is (the engine never moves it again).
type counter struct {
	v        *event.Validator
	hot      map[string]int
	parts    int32 // partitions of the events topic
	sizes    []int64
	from, to int64 // window starts counted: [from, to), unix ms

	seen   map[int32]map[string]struct{} // canonical partition -> key "\x00" id
	totals map[string]*total.Total
	read   map[int32]*partRead
	ev     event.Event
	key    []byte

	attr   *attrCounter    // the attribute roll-up recount (attr.go); nil: none
	moved  map[string]bool // HeaderMovedFrom of the copies read
	orig   []*kgo.Record   // records outside their canonical partition
	finite error           // the first window whose total is not finite

	nread, malformed, duplicates, counted, movedSkipped int64
}

func newCounter(v *event.Validator, hot map[string]int, parts int32, sizes []int64, from, to int64) *counter {
	return &counter{
		v: v, hot: hot, parts: parts, sizes: sizes, from: from, to: to,
		seen:   make(map[int32]map[string]struct{}),
		totals: make(map[string]*total.Total),
		read:   make(map[int32]*partRead),
		moved:  make(map[string]bool),
	}
}

// partRead is what the recount read of one events partition: end is one
// past the offset of the last data record read (X_p of safety.go; 0 when
// none), maxTS the largest min(ts, record timestamp) of a valid record read
// at its canonical partition p (M_p; valid is false when there is none).
type partRead struct {
	end   int64
	maxTS int64
	valid bool
}

func (c *counter) part(p int32) *partRead {
	pr := c.read[p]
	if pr == nil {
		pr = &partRead{}
		c.read[p] = pr
	}
	return pr
}

// decode decodes and validates r into c.ev and returns its canonical
// partition; ok is false for a malformed record.
func (c *counter) decode(r *kgo.Record) (canonical int32, ok bool) {
	c.ev.Reset()
	if _, err := event.Decode(r.Value, &c.ev); c.v.ValidateDecodedAt(&c.ev, r.Timestamp.UnixMilli(), err) != nil {
		return 0, false
	}
	c.key = kafka.AppendRecordKey(c.key[:0], c.hot, c.ev.Key, c.ev.ID)
	return kafka.Partition(c.key, c.parts), true
}

func (c *counter) add(r *kgo.Record) {
	c.nread++
	pr := c.part(r.Partition)
	pr.end = max(pr.end, r.Offset+1)
	cp, ok := c.decode(r)
	if !ok {
		c.malformed++
		return
	}
	from := kafka.Header(r, kafka.HeaderMovedFrom)
	if from != "" {
		c.moved[from] = true
	}
	if cp != r.Partition && from == "" {
		c.orig = append(c.orig, r)
		return
	}
	ts := min(c.ev.TS, r.Timestamp.UnixMilli())
	if !pr.valid || ts > pr.maxTS {
		pr.maxTS, pr.valid = ts, true
	}
	c.count(cp)
}

// finish counts the originals without a moved copy (see counter).
func (c *counter) finish() {
	for _, r := range c.orig {
		if c.moved[strconv.Itoa(int(r.Partition))+"/"+strconv.FormatInt(r.Offset, 10)] {
			c.movedSkipped++
			continue
		}
		if cp, ok := c.decode(r); ok {
			c.count(cp)
		}
	}
	c.orig = nil
}

// count counts c.ev at canonical partition p unless its identity was.
func (c *counter) count(p int32) {
	ids := c.seen[p]
	if ids == nil {
		ids = make(map[string]struct{})
		c.seen[p] = ids
	}
	ident := c.ev.Key + "\x00" + c.ev.ID
	if _, dup := ids[ident]; dup {
		c.duplicates++
		return
	}
	ids[ident] = struct{}{}
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
		t := total.Total{Key: c.ev.Key, Type: c.ev.Type, DimSet: dims, Sub: int(p), Start: start, Size: size}
		c.key = t.AppendRecordKey(c.key[:0])
		cur, ok := c.totals[string(c.key)]
		if !ok {
			cur = &t
			c.totals[string(c.key)] = cur
		}
		cur.Add(c.ev.Value)
		if c.attr != nil {
			c.attr.count(&c.ev, dims, p, start, size)
		}
		if c.finite == nil && !finite(cur) {
			c.finite = fmt.Errorf("reconcile: window %s: the recounted total (sum %v, min %v, max %v) is not a finite number; "+
				"an event value or partial sum is beyond float64's range (the validator accepts |value| <= 2^53): nothing is written",
				c.key, cur.Sum, cur.Min, cur.Max)
		}
	}
	if inRange {
		c.counted++
	}
}

func finite(t *total.Total) bool {
	for _, f := range [...]float64{t.Sum, t.Min, t.Max} {
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return false
		}
	}
	return true
}

// lateCounter counts the distinct events (by identity (key, id)) of the
// late topic whose window, of any size, starts in the range: how many
// reached the engine after their window's allowed lateness. They are in
// the events topic too, so the recount already has them.
type lateCounter struct {
	c     *counter // for the validator, sizes and range
	seen  map[string]struct{}
	ev    event.Event
	count int64
}

func (l *lateCounter) add(r *kgo.Record) {
	l.ev.Reset()
	if _, err := event.Decode(r.Value, &l.ev); l.c.v.ValidateDecodedAt(&l.ev, r.Timestamp.UnixMilli(), err) != nil {
		return
	}
	ident := l.ev.Key + "\x00" + l.ev.ID
	if _, dup := l.seen[ident]; dup {
		return
	}
	l.seen[ident] = struct{}{}
	for _, size := range l.c.sizes {
		if s := total.WindowStart(l.ev.TS, size); s >= l.c.from && s < l.c.to {
			l.count++
			return
		}
	}
}
