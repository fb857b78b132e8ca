// Package difftest holds the engine and the check's oracle (sim/oracle)
// against each other: the same random and adversarial inputs (valid
// events, every malformed kind, duplicates with other payloads,
// out-of-order and late events, special characters, extreme values) go
// through the real engine (engine/event's decoding and validation, the
// engine/aggregate worker on an in-process kfake, the gateway and the
// query path) and through the oracle, and every reason code and every
// window must agree exactly.
//
// It is the one package that imports both; sim/oracle itself never
// imports engine/. Its tests are the package: there is no API.
package difftest
