package reports

import (
	"time"
)

// FaultRecord is one fault of report.json's faults: what the fault
// schedule did and when, and how long the pipeline took to recover.
type FaultRecord struct {
	// Name is the fault's name in the scenario (its kind when unnamed).
	Name string `json:"name"`
	// Kind is the fault kind (worker-crash, network-partition, ...).
	Kind string `json:"kind"`
	// InjectedAt and HealedAt are when the fault was injected and healed
	// (null: it was not).
	InjectedAt *time.Time `json:"injected_at"`
	HealedAt   *time.Time `json:"healed_at"`
	// HealS is how long the heal itself took, seconds.
	HealS float64 `json:"heal_s"`
	// RecoveryS is how long after the heal the pipeline caught up (its
	// consumer lag back under a bound), seconds; -1: it did not.
	RecoveryS float64 `json:"recovery_s"`
	// Error is why the fault could not be injected or healed ("" : it
	// was).
	Error string `json:"error,omitempty"`
	// Hits are the requests the fault failed (sink-errors) or the event
	// sends it refused (overload).
	Hits int64 `json:"hits,omitempty"`
}

// Span is the record's interval on a chart, from its injection to its
// heal (open-ended when it was not healed); ok is false when it was not
// injected.
func (f FaultRecord) Span() (s Span, ok bool) {
	if f.InjectedAt == nil {
		return Span{}, false
	}
	s = Span{Start: *f.InjectedAt, Label: f.Name}
	if s.Label == "" {
		s.Label = f.Kind
	}
	if f.HealedAt != nil {
		s.End = *f.HealedAt
	}
	return s, true
}

// FaultErrors are the faults that could not be injected or healed, as
// "fault NAME: ERROR".
func (r *Report) FaultErrors() []string {
	var out []string
	for _, f := range r.Faults {
		if f.Error != "" {
			out = append(out, "fault "+f.Name+": "+f.Error)
		}
	}
	return out
}

// TimeOf is t as a record's time (nil for the zero time).
func TimeOf(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
