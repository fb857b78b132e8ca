package gateway

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
)

// Content types of POST /v1/events.
const (
	ContentTypeJSON     = "application/json"
	ContentTypeProtobuf = "application/x-protobuf"
)

// retryAfter is the Retry-After of 429 and 503 answers, in seconds.
const retryAfter = "1"

// item is one event of a batch.
type item struct {
	id     string
	key    string // counted key, for the dead-letter record
	raw    []byte // a rejected event as received
	err    error  // decode or validation error: rejected
	k0, k1 int    // record key in batch.keys
	v0, v1 int    // record value in batch.vals
}

// batch is the reusable per-request state; the records reference its
// buffers until Kafka acknowledged them.
type batch struct {
	body  bytes.Buffer
	keys  []byte
	vals  []byte
	items []item
	over  int   // events beyond MaxBatch
	ref   int64 // receive time, unix ms

	// Producing (produce.go).
	errs  []error // Kafka's verdict per record, once acked
	acked []bool
	mu    sync.Mutex // guards errs, acked, left
	left  int        // records not yet acked
	all   chan struct{}
	refs  atomic.Int32 // the handler and the producer; the last one returns b
}

func (b *batch) reset() {
	b.body.Reset()
	b.keys = b.keys[:0]
	b.vals = b.vals[:0]
	clear(b.items) // drop references to strings and errors
	b.items = b.items[:0]
	b.over = 0
	clear(b.errs)
	b.all = nil
}

// serveEvents handles POST /v1/events.
func (g *Gateway) serveEvents(w http.ResponseWriter, r *http.Request) {
	// The reference time of every event of the request (the contract's
	// ref), and the timestamp of every record written for it.
	ref := time.Now().UnixMilli()
	if !g.authorized(w, r) {
		return
	}
	format, ok := requestFormat(w, r)
	if !ok {
		return
	}

	b := g.bufs.Get().(*batch)
	handedOff := false // to produce, which returns b when Kafka is done with it
	defer func() {
		if !handedOff {
			g.putBatch(b)
		}
	}()
	if berr := g.readBody(w, r, b); berr != nil {
		writeError(w, berr.code, berr.msg)
		return
	}

	b.ref = ref
	// A protobuf batch is counted, and admitted or refused for overload,
	// before it is decoded: under overload the refused ones, which the
	// clients send again, cost a walk over their tags instead of the
	// decoding and validation of every event. (The count's checks of the
	// batch's wire format are the decoder's, so the same bodies are 400.)
	admitted := 0
	if format == event.FormatProto {
		if n, err := event.CountProtoBatch(b.body.Bytes()); err == nil && n > 0 && n <= g.cfg.maxBatch {
			if !g.admit(w, n) {
				return
			}
			admitted = n
		}
	}
	if err := g.decode(b, format); err != nil {
		g.unadmit(admitted)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if b.over > 0 {
		g.unadmit(admitted)
		writeError(w, http.StatusBadRequest, fmt.Sprintf("batch has %d events, more than the limit of %d per request (max batch); split it", len(b.items)+b.over, g.cfg.maxBatch))
		return
	}
	n := len(b.items)
	if n != admitted { // a JSON batch (admitted 0); a counted one never differs (FuzzDecodeProtoBatch)
		g.unadmit(admitted)
		if n > 0 && !g.admit(w, n) {
			return
		}
	}
	if n == 0 {
		writeJSON(w, http.StatusOK, Response{Results: []Result{}})
		return
	}
	g.m.batch.Observe(float64(n))
	handedOff = true
	g.produce(w, r, b)
}

// admit takes n events' room under the rate limit and the in-flight
// limit, or answers 429 and says no.
func (g *Gateway) admit(w http.ResponseWriter, n int) bool {
	if g.rl != nil {
		if ok, wait := g.rl.take(n); !ok {
			w.Header().Set("Retry-After", retryAfterSeconds(wait))
			writeError(w, http.StatusTooManyRequests, fmt.Sprintf("over the admission rate limit of %g events/s (batch of %d); nothing of this batch was produced, retry later", g.cfg.rateLimit, n))
			return false
		}
	}
	if !g.adm.acquire(n) {
		if g.rl != nil {
			g.rl.refund(n)
		}
		w.Header().Set("Retry-After", retryAfter)
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many events in flight to Kafka (limit %d, batch of %d does not fit); nothing of this batch was produced, retry later", g.cfg.maxInFlight, n))
		return false
	}
	return true
}

// unadmit gives back the room admit took for n events (0: none).
func (g *Gateway) unadmit(n int) {
	if n == 0 {
		return
	}
	g.adm.release(n)
	if g.rl != nil {
		g.rl.refund(n)
	}
}

func (g *Gateway) putBatch(b *batch) {
	b.reset()
	g.bufs.Put(b)
}

// requestFormat is the event format the Content-Type names, answering 415
// for any other.
func requestFormat(w http.ResponseWriter, r *http.Request) (event.Format, bool) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		switch mt {
		case ContentTypeJSON:
			return event.FormatJSON, true
		case ContentTypeProtobuf, "application/protobuf":
			return event.FormatProto, true
		}
	}
	w.Header().Set("Accept-Post", ContentTypeJSON+", "+ContentTypeProtobuf)
	writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q (use %s for a JSON array of events or %s for an EventBatch)", ct, ContentTypeJSON, ContentTypeProtobuf))
	return 0, false
}

// decode decodes and validates every event of the body into b.items,
// re-encoding good events (in the format received) into b.vals and their
// record keys into b.keys. It fails only when the body is not a batch.
func (g *Gateway) decode(b *batch, format event.Format) error {
	appendEvent := event.AppendJSON
	decodeBatch := event.DecodeJSONBatch
	what := "a JSON array of events"
	if format == event.FormatProto {
		appendEvent = event.AppendProto
		decodeBatch = event.DecodeProtoBatch
		what = "a protobuf EventBatch"
	}
	err := decodeBatch(b.body.Bytes(), func(_ int, raw []byte, e *event.Event, err error) {
		if len(b.items) >= g.cfg.maxBatch {
			b.over++
			return
		}
		// After a decode error e holds the id and key as sent (or
		// "").
		it := item{id: e.ID, key: e.Key}
		err = g.cfg.validator.ValidateDecodedAt(e, b.ref, err)
		it.err = err
		if err != nil {
			// The decoder lends raw only during the call; rejects are
			// rare, so copying them is cheap.
			it.raw = append([]byte(nil), raw...)
		} else {
			it.k0 = len(b.keys)
			b.keys = kafka.AppendRecordKey(b.keys, g.cfg.hotKeys, e.Key, e.ID)
			it.k1 = len(b.keys)
			it.v0 = len(b.vals)
			b.vals = appendEvent(b.vals, e)
			it.v1 = len(b.vals)
		}
		b.items = append(b.items, it)
	})
	if err != nil {
		return fmt.Errorf("body is not %s: %w", what, err)
	}
	return nil
}

// respond answers a produced batch; failed(i) is Kafka's verdict on record
// i (nil: acknowledged).
func (g *Gateway) respond(w http.ResponseWriter, b *batch, failed func(i int) error) {
	n := len(b.items)
	var firstErr error
	var resp Response
	resp.Results = []Result{}
	dlqFailed := 0
	for i := range b.items {
		it := &b.items[i]
		ferr := failed(i)
		if ferr != nil && firstErr == nil {
			firstErr = ferr
		}
		switch {
		case it.err != nil:
			resp.Rejected++
			resp.Results = append(resp.Results, Result{Index: i, ID: it.id, Status: StatusRejected, Reason: event.ErrorCode(it.err), Error: it.err.Error()})
			if ferr != nil {
				dlqFailed++
			}
		case ferr != nil:
			resp.Failed++
			resp.Results = append(resp.Results, Result{Index: i, ID: it.id, Status: StatusFailed, Error: ferr.Error()})
		default:
			resp.Accepted++
		}
	}
	g.m.accepted.Add(float64(resp.Accepted))
	g.m.rejected.Add(float64(resp.Rejected))
	g.m.failed.Add(float64(resp.Failed))
	g.m.dlqFail.Add(float64(dlqFailed))

	code := http.StatusOK
	switch {
	case resp.Failed > 0 || dlqFailed > 0:
		code = http.StatusServiceUnavailable
		resp.Error = fmt.Sprintf("Kafka did not acknowledge %d of %d records (%d events, %d dead letters): %v; re-send the batch (the engine deduplicates events by id)", resp.Failed+dlqFailed, n, resp.Failed, dlqFailed, firstErr)
		w.Header().Set("Retry-After", retryAfter)
		g.cfg.logger.Warn("gateway: produce failed", "records", n, "failed_events", resp.Failed, "failed_dead_letters", dlqFailed, "err", firstErr)
	case resp.Accepted == n:
	case resp.Accepted > 0:
		code = http.StatusMultiStatus
	default:
		code = http.StatusBadRequest
		resp.Error = fmt.Sprintf("all %d events are invalid (see results)", n)
	}
	writeJSON(w, code, resp)
}
