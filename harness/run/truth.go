package run

import (
	"time"

	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/oracle"
)

// TruthFile is the name of a run's saved truth in its report directory
// (what `countlab check --truth` reads).
const TruthFile = "truth.bin"

// orZero is d for an oracle.Config duration: 0 is "none" on countlab's
// flags but "the default" in oracle.Config, whose "none" is negative.
func orZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// NewTruth is the run's oracle, with the target's windows and watermark
// settings.
func NewTruth(windows []time.Duration, lateness, outOfOrder time.Duration) (*oracle.Oracle, error) {
	return oracle.New(truthConfig(windows, lateness, outOfOrder))
}

// truthConfig is NewTruth's oracle configuration.
func truthConfig(windows []time.Duration, lateness, outOfOrder time.Duration) oracle.Config {
	horizon := oracle.DefaultDedupHorizon
	if need := windows[len(windows)-1] + lateness + outOfOrder; need > horizon {
		horizon = need
	}
	return oracle.Config{Windows: windows, Lateness: orZero(lateness), OutOfOrderness: orZero(outOfOrder), DedupHorizon: horizon}
}

// TruthOf tells the oracle of every sent event (sim.OracleSent). direct
// marks Kafka-direct traffic: Kafka acknowledges malformed events the
// engine then dead-letters, which is no contract mismatch (the sender
// sets Direct itself for the Kafka routes of a traffic.routes mix).
func TruthOf(o *oracle.Oracle, direct bool) sim.BatchTruth {
	return oracleTruth{o, direct}
}

// oracleTruth is TruthOf's truth: a batch goes to the oracle in one
// AddAll.
type oracleTruth struct {
	o      *oracle.Oracle
	direct bool
}

// Sent tells the oracle of one item (sim.Truth).
func (t oracleTruth) Sent(s oracle.Sent) {
	s.Direct = s.Direct || t.direct
	t.o.Add(s)
}

// SentAll tells the oracle of a batch (sim.BatchTruth).
func (t oracleTruth) SentAll(ss []oracle.Sent) {
	if t.direct {
		for i := range ss {
			ss[i].Direct = true
		}
	}
	t.o.AddAll(ss)
}
