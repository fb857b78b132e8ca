package countlab

import (
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/countlab/countlab/sim/ledger"
)

// The process-wide ledger: every VU of a k6 process runs in it, so one
// mutex-protected ledger (sim/ledger is safe for concurrent use) holds the
// acknowledged events of all of them. Its window sizes are fixed by the
// first producer or gateway created; they must match the engine's
// (`countlab up --windows`, default 1m).
var global processLedger

type processLedger struct {
	mu      sync.Mutex
	l       *ledger.Ledger
	windows string
}

// DefaultWindows are the window sizes of the ledger when a script gives
// none: those of `countlab up`.
const DefaultWindows = "1m"

func parseWindows(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		d, err := time.ParseDuration(p)
		if err != nil || d <= 0 || d%time.Second != 0 {
			return nil, fmt.Errorf("windows: %q is not a whole number of seconds like 10s, 1m", p)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("windows: none in %q", s)
	}
	return out, nil
}

// useLedger returns the process ledger, creating it with windows; it is an
// error to ask for other windows than the ledger's.
func useLedger(windows string) (*ledger.Ledger, error) {
	if windows == "" {
		windows = DefaultWindows
	}
	sizes, err := parseWindows(windows)
	if err != nil {
		return nil, err
	}
	global.mu.Lock()
	defer global.mu.Unlock()
	if global.l == nil {
		global.l = ledger.New(sizes...)
		global.windows = windows
		return global.l, nil
	}
	have := global.l.Sizes()
	want := ledger.New(sizes...).Sizes()
	if fmt.Sprint(have) != fmt.Sprint(want) {
		return nil, fmt.Errorf("windows %q differ from the ledger's %q (one window set per k6 process)", windows, global.windows)
	}
	return global.l, nil
}

// generatedSeq is the ledger sequence number of a generated event: the
// VU id above bit 40 and the VU's sequence below, unique in the process.
func generatedSeq(vu, seq uint64) uint64 { return vu<<40 | seq&(1<<40-1) }

// idSeq is the ledger sequence number of an event a script built itself:
// a 63-bit hash of its id, top bit set so it never meets a generated one.
func idSeq(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64() | 1<<63
}

// WriteLedger saves the process ledger to path in the sim/ledger format
// (what `countlab check --ledger` reads) and returns its stats. With no
// events acknowledged it writes an empty ledger of the default windows.
func (mi *ModuleInstance) writeLedger(path string) (map[string]any, error) {
	if path == "" {
		return nil, fmt.Errorf("countlab.writeLedger: no path")
	}
	l, err := useLedger(global.windowsOrDefault())
	if err != nil {
		return nil, err
	}
	if err := l.Save(path); err != nil {
		return nil, fmt.Errorf("countlab.writeLedger: %w", err)
	}
	return statsObject(l), nil
}

// ledgerStats is the process ledger's stats:
// {events, late, duplicates, windows}.
func (mi *ModuleInstance) ledgerStats() map[string]any {
	l, err := useLedger(global.windowsOrDefault())
	if err != nil {
		return map[string]any{}
	}
	return statsObject(l)
}

func statsObject(l *ledger.Ledger) map[string]any {
	s := l.Stats()
	return map[string]any{"events": s.Events, "late": s.Late, "duplicates": s.Duplicates, "windows": s.Windows}
}

func (g *processLedger) windowsOrDefault() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.windows == "" {
		return DefaultWindows
	}
	return g.windows
}
