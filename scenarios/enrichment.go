package scenarios

import "time"

// Enrichment turns on the attribute roll-up (engine/enrich) for a run:
// every counted key is a video in a channel, the run sends the videos'
// metadata through the gateway's POST /v1/metadata (first versions at the
// start, late ones, moves and renames during the traffic), the engine
// counts views per channel, and the check compares every channel's closed
// windows with the truth, in the query service and in InfluxDB.
type Enrichment struct {
	// Attributes are the attributes rolled up (default [channel]; the
	// generator sets channel and title).
	Attributes []string `yaml:"attributes"`
	// Channels is the number of channels (default 20).
	Channels int `yaml:"channels"`
	// ZipfS is the exponent of the videos' Zipf spread over the channels
	// (default 1.1; channel 0 has the most).
	ZipfS float64 `yaml:"zipf_s"`
	// LateShare of the videos get their metadata only during the run
	// (between 20% and 60% of it), effective LateBackdate before it is
	// sent; their earlier windows count under "(unknown)". [0, 1),
	// default 0.1.
	LateShare float64 `yaml:"late_share"`
	// LateBackdate is how far before its send a late version takes effect
	// (default 2s; at most the engine's allowed lateness).
	LateBackdate time.Duration `yaml:"late_backdate"`
	// Moves is the number of videos moved to another channel during the
	// run (effective when sent; default 0).
	Moves int `yaml:"moves"`
	// Renames is the number of title changes during the run (default 0).
	Renames int `yaml:"renames"`
	// Deletes is the number of videos deleted during the run (effective
	// when sent; their later events count under "(unknown)"; default 0).
	Deletes int `yaml:"deletes"`
}

// defaults fills the zero fields.
func (e *Enrichment) defaults() {
	if len(e.Attributes) == 0 {
		e.Attributes = []string{"channel"}
	}
	if e.Channels == 0 {
		e.Channels = 20
	}
	if e.ZipfS == 0 {
		e.ZipfS = 1.1
	}
	if e.LateBackdate == 0 {
		e.LateBackdate = 2 * time.Second
	}
}

func (s *Scenario) validateEnrichment(bad func(path, hint, format string, a ...any)) {
	e := s.Enrichment
	if e == nil {
		return
	}
	e.defaults()
	for i, a := range e.Attributes {
		if a != "channel" && a != "title" {
			bad("enrichment.attributes", "the generator sets channel and title", "attribute %d is %q", i, a)
		}
	}
	if e.Channels < 1 || e.Channels > 100000 {
		bad("enrichment.channels", "from 1 to 100000", "%d channels", e.Channels)
	}
	if e.ZipfS <= 0 {
		bad("enrichment.zipf_s", "a positive exponent, e.g. 1.1", "zipf_s %v", e.ZipfS)
	}
	if e.LateShare < 0 || e.LateShare >= 1 {
		bad("enrichment.late_share", "a share in [0, 1)", "late_share %v", e.LateShare)
	}
	if e.LateBackdate < 0 || s.Engine.Lateness > 0 && e.LateBackdate > s.Engine.Lateness {
		bad("enrichment.late_backdate", "between 0 and engine.lateness: a version backdated further may miss windows that already closed",
			"late_backdate %v (engine.lateness %v)", e.LateBackdate, s.Engine.Lateness)
	}
	if e.Moves < 0 || e.Renames < 0 || e.Deletes < 0 {
		bad("enrichment.moves", "counts >= 0", "moves %d, renames %d, deletes %d", e.Moves, e.Renames, e.Deletes)
	}
	if s.RollingCheck != nil && s.RollingCheck.Enabled {
		bad("enrichment", "leave rolling_check out of an enrichment scenario",
			"the attribute truth joins every event at its time, so it keeps them all; the rolling check drops them")
	}
	if s.Traffic.Hostile.Fraction > 0 {
		bad("enrichment", "leave traffic.hostile out of an enrichment scenario", "hostile keys are not videos")
	}
}
