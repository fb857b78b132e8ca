package sim

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/event"
)

// Hostile traffic: events built to find the places where a pipeline
// acknowledges an event and then loses or mis-counts it. Each kind has
// the outcome docs/ingest-contract.md defines: refused with a reason code
// (the item is KindMalformed), or accepted and counted (KindFresh, with
// its own id). Each kind cycles through its variants in a fixed order, so
// a short run sends every one of them; which kind comes next is drawn
// from the seed by the kinds' weights.
//
// Event times keep far from every bound of the contract: an on-time
// hostile event is stamped at its intended send time, a future one at
// least an hour ahead, an old one at least a day beyond the 7-day maximum
// age, so the verdict never depends on the milliseconds between send and
// receive.

// HostileKinds are the kinds of hostile events, in the order their
// shares are drawn.
//
//   - ts_future: ts now+1h, now+1d, 2999-01-01 (RFC 3339 text and a JSON
//     number), the largest int64: refused, ts_future.
//   - ts_past: ts now-30d, now-8d, 1969-12-31, -1 ms, 1900-01-01 (text):
//     refused, ts_too_old (before 1970 too: the checks run in the
//     contract's order).
//   - ts_unit: ts as a number of unix seconds, microseconds or
//     nanoseconds (JSON numbers, protobuf ts_ms): refused, ts_unit.
//   - ts_number: ts as a JSON number of milliseconds, RFC 3339 with an
//     offset, with a lower-case t and z (RFC 3339 section 5.6), with nine
//     fraction digits: accepted (protobuf: a plain event).
//   - utf8_invalid: raw invalid UTF-8 (a lone 0xFF, a bad continuation,
//     an overlong form, an encoded surrogate, beyond U+10FFFF, truncated)
//     in the id, key, type, a dim name or value, in JSON and in protobuf
//     string fields: refused, utf8.
//   - utf8_surrogate: JSON \u escapes of lone surrogates (\ud800, \udfff,
//     a high one followed by a non-surrogate, a reversed pair, a high one
//     at the end) in id, key, type, dim name or value; protobuf: the
//     surrogate's UTF-8 bytes: refused, utf8.
//   - key_special: keys with a comma, space, '=', quotes, emoji, '#', '/',
//     '+', '%', a zero-width space, NFC and NFD forms of the same text,
//     JSON escapes (\u00e9, an escaped pair, \/), and a key of exactly 256
//     bytes: accepted, each counted under its key.
//   - key_invalid: a key of 257 bytes, with a backslash (trailing, inner,
//     alone) or a control character (tab, NUL, DEL, C1): refused, key.
//   - dims_special: dim values with a space, quotes, emoji, NFC/NFD, '/',
//     '+', '%', ':', '#', a value of exactly 128 bytes, a name of 64
//     characters, 16 dims: accepted.
//   - dims_invalid: dim values with ',', '=', '|', a backslash or a
//     control character, empty, 129 bytes; names with '-', a space or
//     non-ASCII, empty, 65 characters; 17 dims: refused, dims.
//   - value_extreme: ±2^53, ±(2^53-1), 0, and in JSON 9.007199254740992e15
//     and 1E3: accepted (each on a key of its own, so the window's sum
//     is the value itself).
//   - value_invalid: 2^53+2, -2^53-2, ±1e308, ±1e309 (JSON text), "NaN",
//     "Infinity", "-Inf", "+Inf" (JSON strings); protobuf: 2^53+2, ±1e308,
//     NaN, ±Inf: refused, value. Also the JSON text 9007199254740993
//     (2^53+1), refused though its double is 2^53 (the bound is on the
//     number as written); each on a key of its own, so that a wrongly
//     accepted one cannot spoil another window's sum.
//   - member_unknown: JSON members other than the six (colour, Value,
//     ts_ms, ID, a nested object): refused, field_unknown. Protobuf
//     unknown fields (varint, bytes, fixed32, fixed64, a group) are
//     skipped: accepted.
//   - member_duplicate: a JSON member twice (id, key, type, value, ts, a
//     dim name): refused, field_duplicate. Protobuf takes the last of a
//     repeated field (id, key, value, ts, a dim name, each first given a
//     decoy): accepted with the last values.
//   - syntax: a JSON array element that is not an object (42, "event",
//     null, true, [], [{...}]) or not JSON (a bare NaN or -Infinity value,
//     as Python's json writes them, a trailing comma, a raw tab in a
//     string); a protobuf Event with a known field of the wrong wire type
//     or truncated: refused, syntax.
//   - same_id_variant: a fresh event followed, in the same batch, by an
//     event with its key and id and another value, type, ts or dims: both
//     acknowledged, the first counted, the second a duplicate.
var HostileKinds = []string{"ts_future", "ts_past", "ts_unit", "ts_number", "utf8_invalid", "utf8_surrogate",
	"key_special", "key_invalid", "dims_special", "dims_invalid", "value_extreme", "value_invalid",
	"member_unknown", "member_duplicate", "syntax", "same_id_variant"}

// HostileShare is one hostile kind and its weight among the chosen kinds.
type HostileShare struct {
	Kind   string
	Weight float64
}

// Hostile says how often hostile events are sent, and which.
type Hostile struct {
	// Fraction of the items that are hostile (a same_id_variant pair
	// counts as one).
	Fraction float64
	// Kinds and their weights (every kind, equally, when empty).
	Kinds []HostileShare
}

// hostileMakers make the items of HostileKinds[i]: the v-th of its kind,
// for a protobuf route or not.
// nHostileKinds is len(HostileKinds).
const nHostileKinds = 16

var hostileMakers = [nHostileKinds]func(g *Generator, at time.Duration, v int, proto bool) Item{
	(*Generator).hostileTSFuture, (*Generator).hostileTSPast, (*Generator).hostileTSUnit, (*Generator).hostileTSNumber,
	(*Generator).hostileUTF8, (*Generator).hostileSurrogate, (*Generator).hostileKeySpecial, (*Generator).hostileKeyInvalid,
	(*Generator).hostileDimsSpecial, (*Generator).hostileDimsInvalid, (*Generator).hostileValueExtreme,
	(*Generator).hostileValueInvalid, (*Generator).hostileMemberUnknown, (*Generator).hostileMemberDuplicate,
	(*Generator).hostileSyntax, (*Generator).hostileVariant}

// hostileState is a generator's hostile setup and counters.
type hostileState struct {
	fraction float64
	kinds    []int              // indexes into HostileKinds
	cumW     []float64          // cumulative weights of kinds
	n        [nHostileKinds]int // items made per kind: the variant to make next
	bad      int                // refused items made: their ids
}

func (h *hostileState) init(c Hostile) error {
	if c.Fraction < 0 || c.Fraction > 1 || math.IsNaN(c.Fraction) {
		return fmt.Errorf("sim: hostile fraction %v not in [0, 1]", c.Fraction)
	}
	h.fraction = c.Fraction
	shares := c.Kinds
	if len(shares) == 0 {
		for _, k := range HostileKinds {
			shares = append(shares, HostileShare{Kind: k, Weight: 1})
		}
	}
	var w float64
	for _, s := range shares {
		i := slices.Index(HostileKinds, s.Kind)
		if i < 0 {
			return fmt.Errorf("sim: unknown hostile kind %q (%s)", s.Kind, strings.Join(HostileKinds, ", "))
		}
		if !(s.Weight > 0) || math.IsInf(s.Weight, 0) {
			return fmt.Errorf("sim: hostile kind %q needs a weight > 0", s.Kind)
		}
		w += s.Weight
		h.kinds = append(h.kinds, i)
		h.cumW = append(h.cumW, w)
	}
	return nil
}

// hostile makes the next hostile item, for route r.
func (g *Generator) hostile(at time.Duration, r uint8) Item {
	h := &g.host
	k := h.kinds[0]
	if len(h.kinds) > 1 {
		u := g.r.Float64() * h.cumW[len(h.cumW)-1]
		i, _ := slices.BinarySearch(h.cumW, u)
		k = h.kinds[min(i, len(h.kinds)-1)]
	}
	v := h.n[k]
	h.n[k]++
	proto := g.cfg.Routes[r].Format == Protobuf
	it := hostileMakers[k](g, at, v, proto)
	it.Hostile = HostileKinds[k]
	it.Route = r
	if len(g.pending) > 0 && it.withNext {
		g.pending[len(g.pending)-1].Hostile = it.Hostile
		g.pending[len(g.pending)-1].Route = r
	}
	return it
}

// refused is the base of a hostile event the contract refuses: a valid
// on-time event of its own id, for the kind to spoil.
func (g *Generator) refused(at time.Duration) Item {
	g.host.bad++
	return Item{At: at, Kind: KindMalformed, Event: event.Event{ID: g.cfg.IDPrefix + "hostile-" + strconv.Itoa(g.host.bad),
		Key: g.cfg.KeyPrefix + "0", Type: g.cfg.Types[0].Name, Value: 1, TS: g.start + at.Milliseconds()}}
}

// accepted is the base of a hostile event the contract accepts: a new
// distinct event, on time, with the traffic's dimensions.
func (g *Generator) accepted(at time.Duration) Item {
	it := g.newEvent(at)
	g.addDims(&it.Event)
	return it
}

// Timestamps, unix ms.
const (
	msHour     = int64(time.Hour / time.Millisecond)
	msDay      = 24 * msHour
	ts2999     = 32472144000000 // 2999-01-01T00:00:00Z
	ts1900     = -2208988800000 // 1900-01-01T00:00:00Z
	ts19691231 = -86400000      // 1969-12-31T00:00:00Z
)

// tsVariant is one refused event time: ts from the on-time ts, and the
// JSON text to send instead of event.AppendJSON's ("": its own).
type tsVariant struct {
	ts   func(now int64) int64
	text string
}

func fixedTS(ts int64) func(int64) int64 { return func(int64) int64 { return ts } }
func plusTS(d int64) func(int64) int64   { return func(now int64) int64 { return now + d } }

var (
	tsFuture = []tsVariant{{ts: plusTS(msHour)}, {ts: plusTS(msDay)}, {ts: fixedTS(ts2999)}, // RFC 3339 text in JSON
		{ts: fixedTS(ts2999), text: strconv.FormatInt(ts2999, 10)}, {ts: fixedTS(math.MaxInt64)}}
	tsPast = []tsVariant{{ts: plusTS(-30 * msDay)}, {ts: plusTS(-8 * msDay)}, {ts: fixedTS(ts19691231)}, {ts: fixedTS(-1)},
		{ts: fixedTS(ts1900), text: `"1900-01-01T00:00:00Z"`}}
)

func (g *Generator) hostileTSFuture(at time.Duration, v int, _ bool) Item {
	return g.hostileTS(at, v, tsFuture)
}
func (g *Generator) hostileTSPast(at time.Duration, v int, _ bool) Item {
	return g.hostileTS(at, v, tsPast)
}

func (g *Generator) hostileTS(at time.Duration, v int, vs []tsVariant) Item {
	it := g.refused(at)
	x := vs[v%len(vs)]
	it.Event.TS = x.ts(it.Event.TS)
	if x.text != "" {
		it.Raw = jsonRaw(&it.Event, jsonTS(x.text))
	}
	return it
}

func (g *Generator) hostileTSUnit(at time.Duration, v int, _ bool) Item {
	it := g.refused(at)
	e := &it.Event
	switch v % 3 {
	case 0:
		e.TS /= 1000 // seconds
	case 1:
		e.TS *= 1000 // microseconds
	default:
		e.TS *= 1000_000 // nanoseconds
	}
	it.Raw = jsonRaw(e, jsonTS(strconv.FormatInt(e.TS, 10)))
	return it
}

func (g *Generator) hostileTSNumber(at time.Duration, v int, _ bool) Item {
	it := g.accepted(at)
	e := &it.Event
	var ts string
	switch v % 4 {
	case 0:
		ts = strconv.FormatInt(e.TS, 10)
	case 1:
		ts = `"` + time.UnixMilli(e.TS).In(time.FixedZone("", 5*3600+1800)).Format("2006-01-02T15:04:05.000-07:00") + `"`
	case 2: // RFC 3339 section 5.6 lets the T and the Z be lower case
		ts = `"` + time.UnixMilli(e.TS).UTC().Format("2006-01-02t15:04:05.000z") + `"`
	default:
		ts = `"` + time.UnixMilli(e.TS).UTC().Format("2006-01-02T15:04:05.000") + `456789Z"`
	}
	it.Raw = jsonRaw(e, jsonTS(ts))
	return it
}

// badUTF8 are byte sequences that are not UTF-8.
var badUTF8 = []string{"\xff", "\xc3\x28", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}

// stringFields are the fields a string defect goes in, in turn.
const (
	fID = iota
	fKey
	fType
	fDimName
	fDimValue
	nStringFields
)

// spoil puts text into field f of e (a dim of its own for the dims).
func spoil(e *event.Event, f int, text string) {
	switch f {
	case fID:
		e.ID += text
	case fKey:
		e.Key += text
	case fType:
		e.Type += text
	case fDimName:
		e.Dims = []event.Dim{{Name: "d" + text, Value: "v"}}
	default:
		e.Dims = []event.Dim{{Name: "hostile", Value: "v" + text}}
	}
}

func (g *Generator) hostileUTF8(at time.Duration, v int, proto bool) Item {
	it := g.refused(at)
	spoil(&it.Event, v%nStringFields, badUTF8[(v/nStringFields)%len(badUTF8)])
	// The bytes go on the wire as they are (event.AppendJSON would write
	// U+FFFD instead).
	if proto {
		it.RawProto = event.AppendProto(nil, &it.Event)
	} else {
		it.Raw = jsonRaw(&it.Event)
	}
	return it
}

// loneSurrogates are JSON escapes that are not a valid surrogate pair,
// and for protobuf the UTF-8-style bytes of a surrogate.
var loneSurrogates = []string{`\ud800`, `\udfff`, `\ud800\u0041`, `\udc00\ud800`, `\ud800\ud800`, `\ud83c`}

func (g *Generator) hostileSurrogate(at time.Duration, v int, proto bool) Item {
	it := g.refused(at)
	f, esc := v%nStringFields, loneSurrogates[(v/nStringFields)%len(loneSurrogates)]
	if proto {
		spoil(&it.Event, f, [2]string{"\xed\xa0\x80", "\xed\xbf\xbf"}[v%2]) // U+D800's, U+DFFF's bytes
		it.RawProto = event.AppendProto(nil, &it.Event)
		return it
	}
	// A marker no string holds, replaced by the escape once encoded.
	const mark = "\x01SURROGATE\x01"
	spoil(&it.Event, f, mark)
	it.Raw = []byte(strings.Replace(string(jsonRaw(&it.Event)), `\u0001SURROGATE\u0001`, esc, 1))
	return it
}

// specialKeys are suffixes of keys every store must keep byte-exact.
var specialKeys = []string{"a,b", "a b", "a=b", `"quoted"`, "it's", "\U0001F3AC", "x#0", "p/q", "a+b", "%41", "*?",
	"tag=x,y z", " lead", "trail ", "caf\u00e9", "cafe\u0301", "\u65e5\u672c", "zero\u200bwidth", "nb\u00a0sp", "{}[]"}

func (g *Generator) hostileKeySpecial(at time.Duration, v int, _ bool) Item {
	it := g.accepted(at)
	e := &it.Event
	n := v % (len(specialKeys) + 4)
	switch {
	case n < len(specialKeys):
		e.Key = g.cfg.KeyPrefix + "h-" + specialKeys[n]
	case n == len(specialKeys):
		e.Key = padTo(g.cfg.KeyPrefix+"h-max-", 256, "\u00e9")
	default:
		// JSON escapes of an accepted key: \u00e9, an escaped pair (an
		// emoji), \/ ; the key is what they decode to. Protobuf sends the
		// decoded key.
		esc := [...][2]string{{`\u00e9`, "\u00e9"}, {`\ud83c\udfac`, "\U0001F3AC"}, {`\/`, "/"}}[n-len(specialKeys)-1]
		e.Key = g.cfg.KeyPrefix + "h-esc-" + esc[1]
		it.Raw = jsonRaw(e, jsonKey(`"`+jsonEscape(g.cfg.KeyPrefix+"h-esc-")+esc[0]+`"`))
	}
	return it
}

// padTo pads s with 'x' and ends it with tail so that it is exactly n
// bytes (s cut when longer).
func padTo(s string, n int, tail string) string {
	if len(s)+len(tail) > n {
		s = s[:max(0, n-len(tail))]
	}
	return s + strings.Repeat("x", n-len(s)-len(tail)) + tail
}

// invalidKeys are keys the contract refuses (code key).
func (g *Generator) invalidKey(v int) string {
	p := g.cfg.KeyPrefix + "h-"
	switch v % 9 {
	case 0:
		return padTo(p+"long-", 257, "\u00e9")
	case 1:
		return p + `trailing\`
	case 2:
		return p + `in\ner`
	case 3:
		return `\`
	case 4:
		return p + "tab\there"
	case 5:
		return p + "nul\x00"
	case 6:
		return p + "del\x7f"
	case 7:
		return p + "c1\u0085"
	}
	return p + `double\\`
}

func (g *Generator) hostileKeyInvalid(at time.Duration, v int, _ bool) Item {
	it := g.refused(at)
	it.Event.Key = g.invalidKey(v)
	return it
}

// specialDimValues are dim values every store must keep byte-exact.
var specialDimValues = []string{"a b", `"q"`, "it's", "\U0001F3AC", "caf\u00e9", "cafe\u0301", " lead", "x:y", "p/q",
	"a+b", "%41", "#", "zero\u200bwidth"}

func (g *Generator) hostileDimsSpecial(at time.Duration, v int, _ bool) Item {
	it := g.accepted(at)
	e := &it.Event
	n := v % (len(specialDimValues) + 3)
	switch {
	case n < len(specialDimValues):
		e.Dims = []event.Dim{{Name: "hostile", Value: specialDimValues[n]}}
	case n == len(specialDimValues):
		e.Dims = []event.Dim{{Name: "hostile", Value: padTo("max-", 128, "\u00e9")}}
	case n == len(specialDimValues)+1:
		e.Dims = []event.Dim{{Name: strings.Repeat("N", 63) + "_", Value: "long-name"}}
	default:
		e.Dims = make([]event.Dim, 16)
		for i := range e.Dims {
			e.Dims[i] = event.Dim{Name: fmt.Sprintf("d%02d", i), Value: "v" + strconv.Itoa(i)}
		}
	}
	return it
}

func (g *Generator) hostileDimsInvalid(at time.Duration, v int, _ bool) Item {
	it := g.refused(at)
	e := &it.Event
	bad := [...][2]string{{"hostile", ","}, {"hostile", "a,b"}, {"hostile", "a=b"}, {"hostile", "a|b"}, {"hostile", `trailing\`},
		{"hostile", ""}, {"hostile", padTo("long-", 129, "")}, {"hostile", "tab\there"}, {"hostile", "c1\u0085"},
		{"bad-name", "v"}, {"", "v"}, {"bad name", "v"}, {"na\u00efve", "v"}, {strings.Repeat("N", 65), "v"}}
	n := v % (len(bad) + 1)
	if n < len(bad) {
		e.Dims = []event.Dim{{Name: bad[n][0], Value: bad[n][1]}}
		return it
	}
	e.Dims = make([]event.Dim, 17)
	for i := range e.Dims {
		e.Dims[i] = event.Dim{Name: fmt.Sprintf("d%02d", i), Value: "v"}
	}
	return it
}
