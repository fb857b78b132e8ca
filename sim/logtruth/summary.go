package logtruth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// ShardSummary is the summary one k6 instance writes at the end of a test
// (k6/lib/summary.js): what that execution segment sent and was told.
type ShardSummary struct {
	// Version is the format's version (1).
	Version int `json:"countlab_shard_summary"`
	// RunID names the run; every event id of the run starts with IDPrefix.
	RunID    string `json:"run_id"`
	IDPrefix string `json:"id_prefix"`
	// Segment is the instance's k6 execution segment ("0:1" alone).
	Segment   string  `json:"segment"`
	StartedAt string  `json:"started_at"`
	DurationS float64 `json:"duration_s"`
	// Acknowledged is the distinct valid events the target accepted;
	// Refused those it refused as invalid; Failed the distinct events whose
	// outcome stayed unknown (they may or may not be in the log).
	Acknowledged int64 `json:"acknowledged"`
	Refused      int64 `json:"refused"`
	Failed       int64 `json:"failed"`
	// Copies is the accepted copies (duplicates included).
	Copies int64 `json:"copies"`
	// DroppedIterations is the iterations the open model could not start.
	DroppedIterations int64 `json:"dropped_iterations"`
	// ThresholdsOK: every k6 threshold of the instance held.
	ThresholdsOK bool `json:"thresholds_ok"`
}

// Summaries are the shard summaries of one run.
type Summaries []ShardSummary

// LoadSummaries reads shard summary files. Every file must be a version 1
// summary; all must be of one run (one id prefix) and no segment may come
// twice. The errors name the file and the field.
func LoadSummaries(paths []string) (Summaries, error) {
	var out Summaries
	segs := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var s ShardSummary
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("%s: not a countlab k6 shard summary: %v", p, err)
		}
		if s.Version != 1 {
			return nil, fmt.Errorf("%s: countlab_shard_summary %d: want 1 (written by k6/lib/summary.js)", p, s.Version)
		}
		if s.IDPrefix == "" {
			return nil, fmt.Errorf("%s: id_prefix is empty", p)
		}
		if s.Acknowledged < 0 || s.Refused < 0 || s.Failed < 0 {
			return nil, fmt.Errorf("%s: negative counts", p)
		}
		if len(out) > 0 && s.IDPrefix != out[0].IDPrefix {
			return nil, fmt.Errorf("%s: id_prefix %q, but %s has %q: give the summaries of one run", p, s.IDPrefix, paths[0], out[0].IDPrefix)
		}
		if prev, ok := segs[s.Segment]; ok {
			return nil, fmt.Errorf("%s: segment %s already given by %s", p, s.Segment, prev)
		}
		segs[s.Segment] = p
		out = append(out, s)
	}
	return out, nil
}

// IDPrefix is the run's id prefix ("" without summaries).
func (ss Summaries) IDPrefix() string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0].IDPrefix
}

// AckCheck compares what the producers were told with the log.
type AckCheck struct {
	// Acknowledged is the sum over the shards; Failed likewise.
	Acknowledged, Failed int64
	// InLog is the distinct valid events of the run in the log.
	InLog int64
	// Lost is the acknowledged events not in the log (Acknowledged -
	// InLog when positive): acknowledged, then lost before the log. It
	// fails the check.
	Lost int64
	// Unacknowledged is the events in the log beyond the acknowledged
	// ones (InLog - Acknowledged when positive): writes whose outcome the
	// client did not know (timeouts, lost answers). Reported, not a
	// failure.
	Unacknowledged int64
	// Segments lists the shards' segments.
	Segments []string
}

// CompareAcknowledged compares the shards' acknowledged events with the
// distinct events of the run found in the log.
func (ss Summaries) CompareAcknowledged(inLog int64) AckCheck {
	c := AckCheck{InLog: inLog}
	for _, s := range ss {
		c.Acknowledged += s.Acknowledged
		c.Failed += s.Failed
		c.Segments = append(c.Segments, s.Segment)
	}
	if d := c.Acknowledged - inLog; d > 0 {
		c.Lost = d
	} else {
		c.Unacknowledged = -d
	}
	return c
}

// String is the check's one-line verdict.
func (c AckCheck) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "k6 summaries (%d shards: %s): %d acknowledged, %d of unknown outcome; %d distinct events of the run in the log",
		len(c.Segments), strings.Join(c.Segments, " "), c.Acknowledged, c.Failed, c.InLog)
	switch {
	case c.Lost > 0:
		fmt.Fprintf(&b, ": %d ACKNOWLEDGED EVENTS ARE NOT IN THE LOG (lost before the log)", c.Lost)
	case c.Unacknowledged > 0:
		fmt.Fprintf(&b, ": %d more than acknowledged (writes whose outcome the client did not know; not a failure)", c.Unacknowledged)
	default:
		b.WriteString(": every acknowledged event is in the log")
	}
	return b.String()
}
