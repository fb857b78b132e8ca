package sim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/countlab/countlab/sim/oracle"
)

// Latency histograms hold microseconds from 1 µs to 1 h, 3 significant
// digits.
const (
	histMin = 1
	histMax = int64(time.Hour / time.Microsecond)
	histSig = 3
)

// NewHistogram is a latency histogram in microseconds, as the sender's.
func NewHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histSig) }

// SenderConfig sets up a Sender.
type SenderConfig struct {
	Generator *Generator
	Schedule  *Schedule
	// Duration is how long to send for.
	Duration  time.Duration
	Transport Transport
	// Connections is the number of batches in flight at once (default 8).
	Connections int
	// BatchMax is the most items per batch (default 500).
	BatchMax int
	// FlushEvery is how often due items are batched and handed to a
	// connection (default 5ms).
	FlushEvery time.Duration
	// MaxAttempts bounds the sends of a failed item (default 10).
	MaxAttempts int
	// OnAck is called for every acknowledged item (not for Rejected);
	// from many goroutines. It must not keep it: the item's slot is
	// reused for a later batch once its batch is answered.
	OnAck func(it *Item, ackedAt time.Time)
	// Truth, when set, is told of every item sent, on every attempt,
	// with its outcome (OracleSent, in the format of the item's route):
	// the check's oracle goes here.
	Truth Truth
	// TracerEvery, when > 0, sends a tracer event (Generator.Tracer) this
	// often.
	TracerEvery time.Duration
	// Behind is how far the schedule may lag before the sender reports it
	// is falling behind (default 1s).
	Behind time.Duration
	// Shard, when set (N > 1), sends only shard I of N of the stream
	// (see Shard); TracerEvery must then be 0 (a tracer takes a sequence
	// number, which would shift the shards' streams apart).
	Shard Shard
}

// Sender is an open-model sender: it hands items over on their fixed
// schedule of intended send times, whatever the answers, and measures
// acknowledgement latency from the intended send time (so a slow
// pipeline is not hidden by a sender that waits: coordinated omission is
// corrected).
type Sender struct {
	cfg   SenderConfig
	start time.Time

	generated, acked, rejected, failed, resent, batches atomic.Int64
	throttled                                           atomic.Int64
	errs                                                atomic.Int64
	lagNs, maxLagNs                                     atomic.Int64
	behindSince                                         atomic.Int64
	startedNs                                           atomic.Int64 // start, for readers during Run

	mu       sync.Mutex
	hist     *hdrhistogram.Histogram
	firstErr error

	// ivMu guards iv: the acknowledgement latencies since the last
	// TakeInterval, for latency over time.
	ivMu sync.Mutex
	iv   *hdrhistogram.Histogram

	// free holds the batches' item slices the connections are done with,
	// for the schedule to fill again: a batch of BatchMax items is a large
	// pointerful object (224 bytes an item), and making a fresh one every
	// flush cost the harness its largest allocation (zeroed, then scanned
	// by every collection of the whole process).
	free chan []Item
}

// NewSender checks cfg.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if cfg.Generator == nil || cfg.Schedule == nil || cfg.Transport == nil {
		return nil, errors.New("sim: sender needs a Generator, a Schedule and a Transport")
	}
	if cfg.Duration <= 0 {
		return nil, errors.New("sim: sender duration must be > 0")
	}
	if !cfg.Shard.whole() && cfg.TracerEvery > 0 {
		return nil, errors.New("sim: a sharded sender sends no tracers (TracerEvery 0)")
	}
	if cfg.Connections <= 0 {
		cfg.Connections = 8
	}
	if cfg.BatchMax <= 0 {
		cfg.BatchMax = 500
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 5 * time.Millisecond
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Behind <= 0 {
		cfg.Behind = time.Second
	}
	return &Sender{cfg: cfg, hist: NewHistogram(), iv: NewHistogram()}, nil
}

// Progress is a live view of a Sender.
type Progress struct {
	Elapsed   time.Duration
	Generated int64
	Acked     int64
	Rejected  int64
	Failed    int64 // items given up on after MaxAttempts
	Resent    int64 // re-sends of failed items
	// Throttled is the sends of items refused for overload (the
	// gateway's 429 answers, per item): each was re-sent later (Resent)
	// or, after MaxAttempts, counted Failed; never acknowledged.
	Throttled int64
	Errors    int64 // batches that failed as a whole
	// Lag is how late (after its intended send time) the oldest item of
	// the last round was handed to a connection; MaxLag the most it has
	// been. A lag that grows means the sender falls behind its schedule.
	Lag, MaxLag time.Duration
}

// Progress is the sender's progress now.
func (s *Sender) Progress() Progress {
	var el time.Duration
	if ns := s.startedNs.Load(); ns != 0 {
		el = time.Since(time.Unix(0, ns))
	}
	return Progress{Elapsed: el, Generated: s.generated.Load(), Acked: s.acked.Load(), Rejected: s.rejected.Load(),
		Failed: s.failed.Load(), Resent: s.resent.Load(), Throttled: s.throttled.Load(), Errors: s.errs.Load(),
		Lag: time.Duration(s.lagNs.Load()), MaxLag: time.Duration(s.maxLagNs.Load())}
}

// Histogram is the acknowledgement latency (µs) of every acknowledged
// item, from its intended send time; valid after Run returns.
func (s *Sender) Histogram() *hdrhistogram.Histogram { return s.hist }

// TakeInterval returns the acknowledgement latency (µs) of the items
// acknowledged since the previous call (or since Run started) and starts
// a new interval; safe during Run. Histogram keeps every item.
func (s *Sender) TakeInterval() *hdrhistogram.Histogram {
	fresh := NewHistogram()
	s.ivMu.Lock()
	h := s.iv
	s.iv = fresh
	s.ivMu.Unlock()
	return h
}

// Start is when Run started (zero before).
func (s *Sender) Start() time.Time {
	if ns := s.startedNs.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

type batch struct {
	items []Item
}

// Run sends until Duration has passed and every batch is answered. It
// returns the first transport error, if any (the run goes on after one).
func (s *Sender) Run(ctx context.Context) error {
	s.start = time.Now()
	s.startedNs.Store(s.start.UnixNano())
	queue := make(chan batch, 4*s.cfg.Connections)
	// Every slice in flight fits: the queue's, one per connection, and
	// the one being filled (plus a carried pair's).
	s.free = make(chan []Item, 5*s.cfg.Connections+2)
	var wg sync.WaitGroup
	for c := 0; c < s.cfg.Connections; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.conn(ctx, queue)
		}()
	}
	s.schedule(ctx, queue)
	close(queue)
	wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstErr
}

// schedule generates every item when it is due and hands batches over.
func (s *Sender) schedule(ctx context.Context, queue chan<- batch) {
	g := s.cfg.Generator
	src := newStream(g, s.cfg.Schedule, s.cfg.Shard, s.cfg.Duration)
	next := src.next()
	nextTracer := s.cfg.TracerEvery / 2
	tick := time.NewTicker(s.cfg.FlushEvery)
	defer tick.Stop()
	cur := s.items()
	for next < s.cfg.Duration {
		now := time.Since(s.start)
		firstDue := min(next, nextTracer)
		// Tracers go in event-time order with the traffic: a tracer is
		// taken only once every item due before it has been, never ahead
		// of a lagging schedule (a tracer timed by the wall clock while
		// the sender is behind would push the engine's watermark past
		// the items still to come and make them late), and never between
		// the two items of a pair.
		tracers := func(upTo time.Duration) {
			for s.cfg.TracerEvery > 0 && nextTracer <= upTo && nextTracer < s.cfg.Duration &&
				(len(cur) == 0 || !cur[len(cur)-1].withNext) {
				cur = append(cur, g.Tracer(nextTracer))
				s.generated.Add(1)
				nextTracer += s.cfg.TracerEvery
			}
		}
		// An item that must go with the next (a same-id pair) takes the
		// next along, even if it is not yet due.
		for (next <= now || len(cur) > 0 && cur[len(cur)-1].withNext) && next < s.cfg.Duration {
			tracers(min(next, now))
			cur = slices.Grow(cur, 1)[:len(cur)+1]
			src.takeInto(&cur[len(cur)-1]) // in place: an Item is ~250 bytes
			s.generated.Add(1)
			next = src.next()
			if len(cur) >= s.cfg.BatchMax {
				// Never split a pair: its first item opens the next batch.
				var carry []Item
				if last := cur[len(cur)-1]; last.withNext && len(cur) > 1 {
					carry, cur = []Item{last}, cur[:len(cur)-1]
				}
				if !s.hand(ctx, queue, cur) {
					return
				}
				cur = append(s.items(), carry...)
			}
		}
		tracers(min(next, now))
		if len(cur) > 0 {
			if !s.hand(ctx, queue, cur) {
				return
			}
			cur = s.items()
		}
		// Lag: how late the oldest item just handed over went.
		lag := max(time.Since(s.start)-firstDue, 0)
		s.lagNs.Store(int64(lag))
		if int64(lag) > s.maxLagNs.Load() {
			s.maxLagNs.Store(int64(lag))
		}
		if next >= s.cfg.Duration {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// items is an empty item slice of capacity BatchMax: a recycled one when
// a connection has handed one back.
func (s *Sender) items() []Item {
	select {
	case b := <-s.free:
		return b[:0]
	default:
		return make([]Item, 0, s.cfg.BatchMax)
	}
}

// recycle hands a sent batch's slice back to the schedule. Nothing may
// hold the items after this: the transports and the truth are done with
// them when Send returns, and OnAck must not keep the pointer.
func (s *Sender) recycle(b []Item) {
	if cap(b) < s.cfg.BatchMax {
		return
	}
	select {
	case s.free <- b:
	default:
	}
}

func (s *Sender) hand(ctx context.Context, queue chan<- batch, items []Item) bool {
	select {
	case queue <- batch{items: items}:
		return true
	default:
	}
	// Every connection is busy: the schedule waits, and the lag grows.
	s.lagNs.Store(int64(time.Since(s.start) - items[0].At))
	select {
	case queue <- batch{items: items}:
		return true
	case <-ctx.Done():
		return false
	}
}

// tellBuf is a connection's buffers for tell, kept between batches.
type tellBuf struct {
	sents  []oracle.Sent
	events []oracle.Event // the Sent.Event of a batch told in one SentAll
}

// tell tells the truth what became of items (outcomes o, sent at ref):
// in one SentAll when it is a BatchTruth, through b, else item by item.
// A batch's events are written into b.events, not allocated one by one
// (SentAll keeps nothing of ss once it returns).
func (s *Sender) tell(tr Truth, items []Item, o []Outcome, ref int64, b *tellBuf) {
	g := s.cfg.Generator
	bt, batch := tr.(BatchTruth)
	if !batch {
		for i := range items {
			r := g.Route(items[i].Route)
			tr.Sent(OracleSent(&items[i], r.Format, r.Direct, ref, o[i]))
		}
		return
	}
	if cap(b.events) < len(items) {
		b.events = make([]oracle.Event, len(items)) // never grown while pointers into it are held
	}
	evs := b.events[:len(items)]
	for i := range items {
		r := g.Route(items[i].Route)
		b.sents = append(b.sents, oracleSent(&items[i], r.Format, r.Direct, ref, o[i], &evs[i]))
	}
	bt.SentAll(b.sents)
	clear(b.sents) // the items' bytes are the next batch's
	b.sents = b.sents[:0]
	clear(evs)
}

// conn is one connection: it sends batches, re-sends failed items, and
// records latency.
func (s *Sender) conn(ctx context.Context, queue <-chan batch) {
	h := NewHistogram()
	defer func() {
		s.mu.Lock()
		s.hist.Merge(h)
		s.mu.Unlock()
	}()
	out := make([]Outcome, s.cfg.BatchMax)
	lats := make([]int64, 0, s.cfg.BatchMax)
	var tb tellBuf
	// The items to re-send, in two buffers used in turn: an attempt reads
	// one (its items) while it fills the other.
	var retries [2][]Item
	for b := range queue {
		items := b.items
		for attempt := 1; len(items) > 0; attempt++ {
			if ctx.Err() != nil {
				s.failed.Add(int64(len(items)))
				break
			}
			if len(items) > len(out) {
				out = make([]Outcome, len(items))
			}
			o := out[:len(items)]
			sentAt := time.Now()
			// A batch handed to the transport is answered even when ctx
			// ends (an abort, the end of the run): a request cancelled in
			// flight has an outcome nobody knows, which the truth cannot
			// judge. The transports bound each request themselves.
			err := s.cfg.Transport.Send(context.WithoutCancel(ctx), items, o)
			now := time.Now()
			if err != nil {
				s.errs.Add(1)
				s.mu.Lock()
				if s.firstErr == nil {
					s.firstErr = err
				}
				s.mu.Unlock()
			}
			retry := retries[attempt%2][:0]
			lats = lats[:0]
			if tr := s.cfg.Truth; tr != nil {
				s.tell(tr, items, o, sentAt.UnixMilli(), &tb)
			}
			for i := range items {
				switch o[i] {
				case Acked:
					it := &items[i]
					if it.Kind == KindMalformed {
						// A malformed event the transport could not tell
						// apart is acknowledged but never counted.
						s.rejected.Add(1)
						continue
					}
					s.acked.Add(1)
					lat := max(histMin, min(now.Sub(s.start.Add(it.At)).Microseconds(), histMax))
					_ = h.RecordValue(lat)
					lats = append(lats, lat)
					if s.cfg.OnAck != nil {
						s.cfg.OnAck(it, now)
					}
				case Rejected:
					s.rejected.Add(1)
				case Throttled:
					s.throttled.Add(1)
					retry = append(retry, items[i])
				default:
					retry = append(retry, items[i])
				}
			}
			if len(lats) > 0 {
				s.ivMu.Lock()
				for _, l := range lats {
					_ = s.iv.RecordValue(l)
				}
				s.ivMu.Unlock()
			}
			retries[attempt%2] = retry
			if len(retry) == 0 {
				break
			}
			if attempt >= s.cfg.MaxAttempts {
				s.failed.Add(int64(len(retry)))
				break
			}
			s.resent.Add(int64(len(retry)))
			items = retry
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
			}
		}
		s.batches.Add(1)
		s.recycle(b.items)
	}
}

// String is a one-line summary of p.
func (p Progress) String() string {
	rate := 0.0
	if p.Elapsed > 0 {
		rate = float64(p.Acked) / p.Elapsed.Seconds()
	}
	behind := ""
	if p.Lag > time.Second {
		behind = " FALLING BEHIND"
	}
	throttled := ""
	if p.Throttled > 0 {
		throttled = fmt.Sprintf(" throttled=%d", p.Throttled)
	}
	return fmt.Sprintf("%.0f ev/s acked=%d rejected=%d failed=%d errors=%d%s lag=%s%s", rate, p.Acked, p.Rejected, p.Failed, p.Errors,
		throttled, p.Lag.Round(time.Millisecond), behind)
}
