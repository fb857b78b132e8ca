// Package sim generates countlab's traffic: a deterministic, seeded stream
// of events with a chosen key skew, arrival shape, event types and values,
// dimensions, disorder, duplicates, malformed and hostile events
// (HostileKinds: each refused with the contract's reason code or counted),
// and an open-model sender that pushes it through the ingest gateway or
// straight to Kafka, or a Mix of routes, on a fixed schedule of intended
// send times.
//
// Every part is a small type behind a tiny interface (Keys, Rate, Values)
// so a scenario composes them; Generator puts them together. The same seed
// gives the same events in the same order.
//
// Faults that act on the traffic switch it while it runs:
// Schedule.SetFactor multiplies the offered rate (overload),
// Generator.SetClockSkew and SetLateBurst shift event times (clock-skew,
// late-burst); a gateway's 429 is the Throttled outcome, re-sent later.
//
// Ground truth is kept by package sim/oracle (the contract implemented a
// second time, sharing no code with the engine), fed with every sent event
// and what the entry point answered.
package sim
