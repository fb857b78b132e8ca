package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Result statuses of an event that was not accepted.
const (
	// StatusRejected: the event is invalid; it went to the dead-letter
	// topic and re-sending it unchanged will not help.
	StatusRejected = "rejected"
	// StatusFailed: Kafka did not acknowledge the event; re-send it (the
	// engine dedups by id, so a re-sent event is counted once).
	StatusFailed = "failed"
)

// Response is the body of a POST /v1/events answer that got as far as
// validating the batch (200, 207, 400 with every event rejected, 503).
type Response struct {
	// Accepted is the number of events Kafka acknowledged on the events
	// topic.
	Accepted int `json:"accepted"`
	// Rejected is the number of invalid events (sent to the dead-letter
	// topic).
	Rejected int `json:"rejected"`
	// Failed is the number of valid events Kafka did not acknowledge.
	Failed int `json:"failed"`
	// Results lists only the events that were not accepted, in index
	// order: an index absent from Results was accepted.
	Results []Result `json:"results"`
	// Error summarizes why the request failed, on 400 and 503 answers.
	Error string `json:"error,omitempty"`
}

// Result is one event that was not accepted.
type Result struct {
	// Index is the event's position in the batch, from 0.
	Index int `json:"index"`
	// ID is the event's id as sent ("" when the event has no string id),
	// also for an event that is otherwise malformed.
	ID string `json:"id"`
	// Status is StatusRejected or StatusFailed.
	Status string `json:"status"`
	// Reason is the reason code of a rejected event (docs/ingest-contract.md:
	// syntax, utf8, field_unknown, ..., dims); absent for a failed one.
	Reason string `json:"reason,omitempty"`
	// Error is why: "field: reason" for a rejected event, the Kafka error
	// for a failed one.
	Error string `json:"error"`
}

// ErrorBody is the body of every other error answer.
type ErrorBody struct {
	Error string `json:"error"`
}

// writeJSON answers code with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // cannot happen for our types
		code, b = http.StatusInternalServerError, []byte(`{"error":"encoding the response failed"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// writeError answers code with {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, ErrorBody{Error: msg})
}
