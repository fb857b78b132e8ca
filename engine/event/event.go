// Package event is countlab's event model and wire format: the leaf package
// every other part of the pipeline shares.
//
// An event is one countable thing that happened (a view, a click, a visit)
// to one counted key (a video, an ad, a URL) at one event time. On Kafka an
// event is one record whose key is the counted key and whose value is the
// event encoded as JSON (for any client: curl, kcat, k6) or as protobuf (see
// event.proto; compact and fast). Decode tells the two apart: JSON starts
// with '{' (perhaps after whitespace), a protobuf Event never does (Decode
// documents the one subtle case). Batches (the ingest gateway's bodies) are
// a JSON array of events or a protobuf EventBatch.
//
// A record that decodes as neither, or that fails validation, is a
// malformed event: it is never counted, and it goes to the dead-letter
// topic with the *Error's text as its reason and its Code (the reason codes
// of docs/ingest-contract.md, checked in the contract's order: the
// decoders do syntax, utf8 and field_unknown/field_duplicate and find the
// members of the wrong JSON type; Validator.ValidateDecodedAt does the
// rest, refusing a wrong-typed member at its field's place) as its reason
// code.
package event

import (
	"strings"
	"time"
)

// Event is one countable occurrence.
type Event struct {
	// ID is unique per distinct event of a key; a re-sent event keeps its
	// ID and is counted once (identity is (Key, ID)).
	ID string
	// Key is the counted key: a video id, an ad id, a URL.
	Key string
	// Type is the event type (VIEW, LIKE, SHARE, CLICK, ...); the set of
	// accepted types is the Validator's.
	Type string
	// Value is the numeric value summed per window (1 when absent; e.g.
	// watch seconds for a VIEW). avg = sum/count.
	Value float64
	// TS is the event time in unix milliseconds.
	TS int64
	// TSNumber says TS came as a number (a JSON number, or protobuf's
	// ts_ms), not as RFC 3339 text: only then may it be in the wrong unit
	// (Validator.ValidateAt's check ts_unit). TS 0 without TSNumber means
	// that ts was absent (field_missing); the decoders mark the text
	// 1970-01-01T00:00:00Z as a number, the same verdict.
	TSNumber bool
	// Dims are optional dimensions (country, device, ...) used for filters,
	// sorted by Name with unique names.
	Dims []Dim
}

// Dim is one dimension of an event: a name and its value.
type Dim struct {
	Name  string
	Value string
}

// Time is the event time as a time.Time in UTC.
func (e *Event) Time() time.Time { return time.UnixMilli(e.TS).UTC() }

// Dim returns the value of the named dimension and whether it is set.
func (e *Event) Dim(name string) (string, bool) {
	for _, d := range e.Dims {
		if d.Name == name {
			return d.Value, true
		}
	}
	return "", false
}

// DimSet is the canonical text of the dimension set, "country=US,device=ios"
// (names sorted), or "" without dimensions. Aggregates are kept per
// (key, type, DimSet, window).
func (e *Event) DimSet() string {
	switch len(e.Dims) {
	case 0:
		return ""
	case 1:
		return e.Dims[0].Name + "=" + e.Dims[0].Value
	}
	var b strings.Builder
	for i, d := range e.Dims {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d.Name)
		b.WriteByte('=')
		b.WriteString(d.Value)
	}
	return b.String()
}

// Reset clears e for reuse, keeping the Dims slice's capacity.
func (e *Event) Reset() {
	dims := e.Dims[:0]
	*e = Event{Dims: dims}
}
