package oracle

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Reason codes of docs/ingest-contract.md, in the contract's order: the
// first check that fails decides the code.
const (
	CodeSyntax         = "syntax"
	CodeUTF8           = "utf8"
	CodeFieldUnknown   = "field_unknown"
	CodeFieldDuplicate = "field_duplicate"
	CodeFieldMissing   = "field_missing"
	CodeID             = "id"
	CodeKey            = "key"
	CodeType           = "type"
	CodeValue          = "value"
	CodeTSUnit         = "ts_unit"
	CodeTSFuture       = "ts_future"
	CodeTSTooOld       = "ts_too_old"
	CodeTSRange        = "ts_range"
	CodeDims           = "dims"
)

// Codes are every reason code, in the contract's order.
var Codes = []string{CodeSyntax, CodeUTF8, CodeFieldUnknown, CodeFieldDuplicate, CodeFieldMissing, CodeID, CodeKey,
	CodeType, CodeValue, CodeTSUnit, CodeTSFuture, CodeTSTooOld, CodeTSRange, CodeDims}

// The contract's defaults.
var DefaultTypes = []string{"VIEW", "LIKE", "SHARE", "CLICK", "IMPRESSION", "VISIT"}

const (
	DefaultWindow         = time.Minute
	DefaultLateness       = 15 * time.Second
	DefaultOutOfOrderness = 5 * time.Second
	DefaultMaxFutureSkew  = 5 * time.Minute
	DefaultMaxAge         = 7 * 24 * time.Hour
	DefaultDedupHorizon   = 10 * time.Minute
	DefaultMaxIDLen       = 128
	DefaultMaxKeyLen      = 256
	DefaultMaxDims        = 16
	DefaultMaxDimValueLen = 128
)

// maxValue is the largest accepted |value|: 2^53.
const maxValue = 1 << 53

// maxWindowEnd is 2262-04-11T23:47:16Z in unix ms: no window of an
// accepted event ends after it (InfluxDB's last nanosecond timestamp).
const maxWindowEnd = 9223372036000

// Config is the contract's parameters. The zero value of every field is the
// contract's default; a negative duration means zero (NoLateness, say).
type Config struct {
	// Windows are the tumbling window sizes, whole milliseconds (default
	// 1m).
	Windows []time.Duration
	// Lateness is the allowed lateness (default 15s).
	Lateness time.Duration
	// OutOfOrderness is subtracted from the watermark (default 5s).
	OutOfOrderness time.Duration
	// MaxFutureSkew: ts > ref + MaxFutureSkew is ts_future (default 5m).
	MaxFutureSkew time.Duration
	// MaxAge: ts < ref - MaxAge is ts_too_old (default 7 days).
	MaxAge time.Duration
	// DedupHorizon is how far behind the watermark (event time) a first
	// copy is still recognised (default 10m); it must be at least the
	// largest window + Lateness + OutOfOrderness.
	DedupHorizon time.Duration
	// Types are the accepted event types (default DefaultTypes).
	Types []string
	// Limits in bytes (defaults 128, 256, 16 dims, 128).
	MaxIDLen, MaxKeyLen, MaxDims, MaxDimValueLen int
	// Partitions is the events topic's partition count, for log mode
	// (AddRecord): a record outside its canonical partition is an original
	// the engine moves. 0: every record is taken as being in its canonical
	// partition.
	Partitions int32
	// IdentityGeneration, when > 0, keeps the acknowledged identities (sim
	// mode) in generations of this span of send time, so that
	// ForgetBefore can drop the old ones (rolling.go); 0 keeps every
	// identity for the whole run.
	IdentityGeneration time.Duration
	// HotKeys are the keys split n ways (record key "key#i",
	// i = FNV-1a-64(id) mod n), for the canonical partition.
	HotKeys map[string]int
	// EventTimes keeps, with every window total, its events' totals by
	// event-time millisecond: what AttrWindows joins with the metadata
	// per event. It costs a map entry per (window, millisecond); the
	// saved truth (file.go) and Restore do not carry them.
	EventTimes bool
	// Identities is a hint: about how many acknowledged identities the
	// truth will hold (sim mode), e.g. the events a run offers. The
	// identity set is made that large at once instead of doubling as it
	// fills (each doubling re-inserts every identity: one more random
	// memory access per event), and beyond 65,536 identities in parts
	// that AddAll fills a queue at a time (deferred.go). Too small a hint
	// costs only the doublings, too large one the memory; it is capped at
	// MaxIdentitiesHint, and ignored with an IdentityGeneration. 0: one
	// table that starts small, every identity looked up as it comes.
	Identities int
}

// MaxIdentitiesHint is the largest Config.Identities taken (a first table
// of 16M slots, 256 MiB); a larger hint is cut to it.
const MaxIdentitiesHint = 12 << 20

// cfg is Config resolved: all in ms, defaults applied.
type cfg struct {
	sizes                                []int64
	lateness, ooo, skew, maxAge, horizon int64
	types                                map[string]bool
	typeList                             []string
	maxID, maxKey, maxDims, maxDimValue  int
	partitions                           int32
	hotKeys                              map[string]int
	idGen                                int64 // ms; 0: one generation
	eventTimes                           bool
	identities                           int // the table's first size hint
}

func dur(d, def time.Duration) int64 {
	switch {
	case d < 0:
		return 0
	case d == 0:
		return def.Milliseconds()
	}
	return d.Milliseconds()
}

func limit(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

func (c Config) resolve() (cfg, error) {
	r := cfg{
		lateness: dur(c.Lateness, DefaultLateness), ooo: dur(c.OutOfOrderness, DefaultOutOfOrderness),
		skew: dur(c.MaxFutureSkew, DefaultMaxFutureSkew), maxAge: dur(c.MaxAge, DefaultMaxAge),
		horizon: dur(c.DedupHorizon, DefaultDedupHorizon), types: map[string]bool{},
		maxID: limit(c.MaxIDLen, DefaultMaxIDLen), maxKey: limit(c.MaxKeyLen, DefaultMaxKeyLen),
		maxDims: limit(c.MaxDims, DefaultMaxDims), maxDimValue: limit(c.MaxDimValueLen, DefaultMaxDimValueLen),
		partitions: c.Partitions, hotKeys: c.HotKeys, idGen: max(c.IdentityGeneration.Milliseconds(), 0),
		eventTimes: c.EventTimes,
	}
	if c.IdentityGeneration <= 0 {
		r.identities = min(max(c.Identities, 0), MaxIdentitiesHint)
	}
	ws := c.Windows
	if len(ws) == 0 {
		ws = []time.Duration{DefaultWindow}
	}
	for _, w := range ws {
		if w <= 0 || w%time.Millisecond != 0 {
			return r, fmt.Errorf("oracle: window %v is not a positive whole number of milliseconds", w)
		}
		r.sizes = append(r.sizes, w.Milliseconds())
	}
	slices.Sort(r.sizes)
	r.sizes = slices.Compact(r.sizes)
	if len(r.sizes) > 255 {
		return r, errors.New("oracle: more than 255 window sizes")
	}
	r.typeList = c.Types
	if len(r.typeList) == 0 {
		r.typeList = DefaultTypes
	}
	r.typeList = slices.Clone(r.typeList)
	for _, t := range r.typeList {
		r.types[t] = true
	}
	if need := r.sizes[len(r.sizes)-1] + r.lateness + r.ooo; r.horizon < need {
		return r, fmt.Errorf("oracle: dedup horizon %v must be >= largest window + lateness + out-of-orderness = %v",
			time.Duration(r.horizon)*time.Millisecond, time.Duration(need)*time.Millisecond)
	}
	if c.Partitions < 0 {
		return r, fmt.Errorf("oracle: %d partitions", c.Partitions)
	}
	return r, nil
}
