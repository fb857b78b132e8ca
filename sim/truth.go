package sim

import (
	"math"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/sim/oracle"
)

// Truth is told of every event the sender sent and what became of it,
// so that it can work out what the contract expects of each (the check's
// oracle, package sim/oracle). Sent is called once per item and attempt
// (a re-sent item again, with the new attempt's outcome), from many
// goroutines at once, and for the items of one batch in their order
// within it: for two events of one key in one batch, the first reported
// acknowledged is the first in the log.
type Truth interface {
	Sent(s oracle.Sent)
}

// BatchTruth is a Truth that is told of a batch at once: the sender calls
// SentAll with the items of one answered batch, in their order, instead
// of Sent for each (a truth behind a lock takes it once a batch). The
// same contract as Sent's holds; ss is the sender's, and neither it nor
// what it points to (an Event, Raw bytes: the sender reuses both for the
// next batch) may be kept once SentAll returns.
type BatchTruth interface {
	Truth
	SentAll(ss []oracle.Sent)
}

// TruthFunc is a function that is a Truth.
type TruthFunc func(oracle.Sent)

// Sent implements Truth.
func (f TruthFunc) Sent(s oracle.Sent) { f(s) }

// OracleSent is what the truth is told of item it, sent in format f at
// ref (unix ms), with outcome o; direct says its route produces straight
// to Kafka (Sent.Direct).
//
// Proto is set for protobuf. The event is given as Raw bytes when they
// are what decides its verdict: the item's Raw or RawProto for f, the
// encoding of a malformed item (KindMalformed), and a protobuf event with
// a field at its proto3 default (absent on the wire). Otherwise it is
// given as an Event, exactly as f encodes it: HasValue is false only for
// a protobuf value of 1 (left out); TSNumber is true when the ts is a
// number on the wire: in JSON outside years 1970..9999 (where
// event.AppendJSON writes one), always in protobuf.
//
// Acked is true for o == Acked, and for an item the transport says was
// acknowledged although its outcome is Rejected (Item.Acked: a malformed
// event produced straight to Kafka); Code is the transport's reason code
// (Item.Code) of a Rejected item.
func OracleSent(it *Item, f Format, direct bool, ref int64, o Outcome) oracle.Sent {
	return oracleSent(it, f, direct, ref, o, nil)
}

// oracleSent is OracleSent, with the event (when it is given as one)
// written into *ev; a nil ev: a new one.
func oracleSent(it *Item, f Format, direct bool, ref int64, o Outcome, ev *oracle.Event) oracle.Sent {
	s := oracle.Sent{Ref: ref, Acked: o == Acked || it.Acked, Late: it.Late, Proto: f == Protobuf, Direct: direct}
	if o == Rejected && !s.Acked {
		s.Code = it.Code
	}
	e := &it.Event
	switch {
	case f == Protobuf && it.RawProto != nil:
		s.Raw = it.RawProto
	case f == Protobuf && (it.Kind == KindMalformed || e.ID == "" || e.Key == "" || e.Type == "" || e.TS == 0):
		s.Raw = event.AppendProto(nil, e)
	case f == JSON && it.Raw != nil:
		s.Raw = it.Raw
	case f == JSON && it.Kind == KindMalformed:
		s.Raw = event.AppendJSON(nil, e)
	default:
		if ev == nil {
			ev = new(oracle.Event)
		}
		fillOracleEvent(ev, e, f)
		s.Event = ev
	}
	return s
}

// OracleEvent is e in the oracle's terms, as format f encodes it.
func OracleEvent(e *event.Event, f Format) *oracle.Event {
	o := new(oracle.Event)
	fillOracleEvent(o, e, f)
	return o
}

// fillOracleEvent writes OracleEvent(e, f) into *o (every field).
func fillOracleEvent(o *oracle.Event, e *event.Event, f Format) {
	*o = oracle.Event{ID: e.ID, Key: e.Key, Type: e.Type, Value: e.Value, HasValue: true, TS: e.TS}
	if f == Protobuf {
		o.HasValue = math.Float64bits(e.Value) != math.Float64bits(1) // Value stays 1
		o.TSNumber = true
	} else {
		o.TSNumber = e.TS < 0 || e.TS > maxRFC3339TS
	}
	if len(e.Dims) > 0 {
		o.Dims = make([]oracle.Dim, len(e.Dims))
		for i, d := range e.Dims {
			o.Dims[i] = oracle.Dim{Name: d.Name, Value: d.Value}
		}
	}
}
