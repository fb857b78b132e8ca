package scenarios

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/rollup"
	"github.com/countlab/countlab/internal/strictyaml"
)

// LoadRetention reads a retention config file (the --retention-config of
// countlab sink, query-server, reconcile and check): the same block as a
// scenario's engine.retention, decoded as strictly (an unknown field is
// refused with its path, line and the closest known name) and validated.
func LoadRetention(path string) (*rollup.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseRetention(path, data)
}

// ParseRetention is LoadRetention of a file's bytes; name is for
// messages.
func ParseRetention(name string, data []byte) (*rollup.Config, error) {
	var c rollup.Config
	if err := strictyaml.Decode(name, data, &c, strictyaml.Start("granularities:")); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &c, nil
}

// validateRetention checks engine.retention: the config's own rules
// (rollup.Config.Validate), every granularity one of engine.windows, and
// the largest window within the embedded engine's dedup horizon.
func (s *Scenario) validateRetention(bad func(path, hint, format string, a ...any)) {
	r := s.Engine.Retention
	if r == nil {
		return
	}
	const hint = "retention: {granularities: [{window: 1m, retention: 168h}, {window: 1h, retention: 2160h}, {window: 24h}]}"
	if err := r.Validate(); err != nil {
		field, msg, ok := strings.Cut(err.Error(), ": ")
		if !ok {
			field, msg = "", err.Error()
		}
		bad("engine.retention."+field, hint, "%s", msg)
		return
	}
	if err := r.CheckWindows(s.Engine.Windows); err != nil {
		field, msg, _ := strings.Cut(err.Error(), ": ")
		bad("engine.retention."+field, "list every granularity's window in engine.windows", "%s", msg)
	}
	// The embedded engine runs with the default 10 min dedup horizon,
	// which must cover the largest window plus lateness and
	// out-of-orderness.
	if n := len(s.Engine.Windows); n > 0 {
		if need := s.Engine.Windows[n-1] + s.Engine.Lateness + s.Engine.OutOfOrderness; need > 10*time.Minute {
			bad("engine.windows", "windows up to 5m with the default lateness", "the largest window + lateness + out-of-orderness is %v, more than the embedded engine's 10m dedup horizon", need)
		}
	}
}
