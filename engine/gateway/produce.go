package gateway

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// answerGrace is how long past the produce timeout an answer waits for the
// producer's own verdict on each record (the client fails records not yet
// sent when their context expires).
const answerGrace = 100 * time.Millisecond

// recCtx is a record's context: the produce context, and the record's
// index in its batch for the promise. They are allocated per batch, not
// per record.
type recCtx struct {
	context.Context
	i int
}

// produce produces b's records: good events to the events topic, invalid
// ones to the dead-letter topic; waits for Kafka's verdict on every record,
// at most the produce timeout; and answers. It owns b and the batch's
// admission slots: both are given back when Kafka is done with the last
// record, which may be after the answer if the answer timed out.
func (g *Gateway) produce(w http.ResponseWriter, r *http.Request, b *batch) {
	n := len(b.items)
	if cap(b.errs) < n {
		b.errs = make([]error, n)
		b.acked = make([]bool, n)
	}
	b.errs, b.acked = b.errs[:n], b.acked[:n]
	// Records and their contexts are not pooled: the client may look at a
	// record's context after its promise (a goroutine waiting for an
	// unknown topic's metadata does).
	recs := make([]kgo.Record, n)
	rctx := make([]recCtx, n)
	clear(b.acked)
	b.left = n
	b.all = make(chan struct{})
	b.refs.Store(2)

	// The client leaving must not cut a produce short: the records are
	// bounded by the produce timeout instead.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), g.cfg.produceTimeout)
	defer cancel()
	start := time.Now()
	all := b.all
	finish := func() {
		if b.refs.Add(-1) == 0 {
			g.adm.release(n)
			g.putBatch(b)
		}
	}
	promise := func(rec *kgo.Record, err error) {
		i := rec.Context.(*recCtx).i
		b.mu.Lock()
		b.errs[i], b.acked[i] = err, true
		b.left--
		last := b.left == 0
		b.mu.Unlock()
		if last {
			g.m.ack.Observe(time.Since(start).Seconds())
			close(all)
			finish()
		}
	}

	t := g.cfg.topics
	recvTime := time.UnixMilli(b.ref)
	for i := range b.items {
		it := &b.items[i]
		rctx[i] = recCtx{Context: ctx, i: i}
		rec := &recs[i]
		if it.err != nil {
			var key []byte
			if it.key != "" {
				key = []byte(it.key)
			}
			rec = kafka.DeadLetter(t.DeadLetter, key, it.raw, it.err.Error(), Source, nil)
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: event.HeaderReasonCode, Value: []byte(event.ErrorCode(it.err))})
		} else {
			*rec = kgo.Record{Topic: t.Events, Key: b.keys[it.k0:it.k1:it.k1], Value: b.vals[it.v0:it.v1:it.v1]}
		}
		// The record's timestamp is the events' ref: the engine's
		// verdict on it is the gateway's, on every replay.
		rec.Timestamp = recvTime
		rec.Context = &rctx[i]
		g.cl.Produce(ctx, rec, promise)
	}

	timer := time.NewTimer(g.cfg.produceTimeout + answerGrace)
	defer timer.Stop()
	verdict := func(i int) error { return b.errs[i] } // all acked: no more writes
	select {
	case <-all:
	case <-timer.C:
		// A record already sent is not failed by the client until Kafka
		// answers (idempotence); the answer does not wait for that.
		timeout := fmt.Errorf("not acknowledged by Kafka within the produce timeout of %s", g.cfg.produceTimeout)
		errs := make([]error, n)
		b.mu.Lock()
		for i := range n {
			errs[i] = b.errs[i]
			if !b.acked[i] {
				errs[i] = timeout
			}
		}
		b.mu.Unlock()
		verdict = func(i int) error { return errs[i] }
	}
	g.respond(w, b, verdict)
	finish()
}
