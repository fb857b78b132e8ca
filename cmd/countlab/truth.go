package main

import (
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/oracle"
)

// truthFile is the name of a run's saved truth in its report directory
// (what `countlab check --truth` reads).
const truthFile = "truth.bin"

// orZero is d for an oracle.Config duration: 0 is "none" on countlab's
// flags but "the default" in oracle.Config, whose "none" is negative.
func orZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// newTruth is the run's oracle, with the stack's windows and watermark
// settings.
func newTruth(windows []time.Duration, sf *stackFlags) (*oracle.Oracle, error) {
	horizon := oracle.DefaultDedupHorizon
	if need := windows[len(windows)-1] + sf.lateness + sf.outOfOrder; need > horizon {
		horizon = need
	}
	return oracle.New(oracle.Config{Windows: windows, Lateness: orZero(sf.lateness), OutOfOrderness: orZero(sf.outOfOrder), DedupHorizon: horizon})
}

// maxRFC3339TS is the last instant the sim's JSON encoder writes as RFC 3339
// text (9999-12-31T23:59:59.999Z); other times it writes as a number.
const maxRFC3339TS = 253402300799999

// sentItem is what the sender was told of one item, as the oracle takes it
// (until the sender reports oracle.Sent itself).
func sentItem(it *sim.Item, format sim.Format, direct, acked bool, at time.Time) oracle.Sent {
	s := oracle.Sent{Ref: at.UnixMilli(), Acked: acked, Late: it.Late, Direct: direct, Proto: format == sim.Protobuf}
	if it.Raw != nil && format == sim.JSON {
		s.Raw = it.Raw // sent as is; the protobuf encoders send it.Event
		return s
	}
	s.Event = oracleEvent(&it.Event, s.Proto)
	return s
}

func oracleEvent(e *event.Event, proto bool) *oracle.Event {
	o := &oracle.Event{ID: e.ID, Key: e.Key, Type: e.Type, Value: e.Value, HasValue: true, TS: e.TS,
		TSNumber: proto || e.TS < 0 || e.TS > maxRFC3339TS}
	for _, d := range e.Dims {
		o.Dims = append(o.Dims, oracle.Dim{Name: d.Name, Value: d.Value})
	}
	return o
}
