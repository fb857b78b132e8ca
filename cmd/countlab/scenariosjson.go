package main

import (
	"fmt"
	"io"

	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/scenarios"
)

// scenarioInfo is one row of `countlab scenarios list --json`.
type scenarioInfo struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	DurationS   float64 `json:"duration_s"`
	// Rate is the traffic's rate as the table shows it ("5000 events/s
	// (poisson)", "ramp 1000 -> 20000 events/s over 1m0s", ...).
	Rate         string   `json:"rate"`
	EventsPerS   float64  `json:"events_per_s"`
	Keys         int      `json:"keys"`
	Distribution string   `json:"distribution"`
	Via          string   `json:"via"`
	Faults       []string `json:"faults"`
}

// writeScenariosJSON writes the shipped scenarios as a JSON array.
func writeScenariosJSON(w io.Writer) error {
	out := []scenarioInfo{}
	for _, n := range scenarios.Names() {
		sc, err := scenarios.Lookup(n)
		if err != nil {
			return fmt.Errorf("shipped scenario %s is invalid: %w", n, err)
		}
		faults := []string{}
		for _, f := range sc.Faults {
			faults = append(faults, f.Kind)
		}
		out = append(out, scenarioInfo{Name: n, Description: sc.Description, DurationS: sc.Duration.Seconds(), Rate: run.RateText(sc),
			EventsPerS: sc.Traffic.Rate.EventsPerS, Keys: sc.Traffic.Keys.Count, Distribution: sc.Traffic.Keys.Distribution,
			Via: sc.Traffic.Via, Faults: faults})
	}
	return printJSON(w, out)
}
