package sim

import (
	"math"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/countlab/countlab/engine/event"
)

// The wire forms of hostile events that event.AppendJSON and AppendProto
// do not write: raw bytes in strings, escapes, extra or repeated members
// and fields, other number forms.

// jsonParts are the members of a hand-written JSON event, as JSON text.
type jsonParts struct {
	key, value, ts, dims string
	extra                []string
}

type jsonOpt func(*jsonParts)

func jsonTS(raw string) jsonOpt    { return func(p *jsonParts) { p.ts = raw } }
func jsonKey(raw string) jsonOpt   { return func(p *jsonParts) { p.key = raw } }
func jsonValue(raw string) jsonOpt { return func(p *jsonParts) { p.value = raw } }
func jsonDims(raw string) jsonOpt  { return func(p *jsonParts) { p.dims = raw } }

// jsonExtra adds a member (`"name":value`) after the others.
func jsonExtra(member string) jsonOpt {
	return func(p *jsonParts) { p.extra = append(p.extra, member) }
}

// maxRFC3339TS is the last instant event.AppendJSON writes as RFC 3339
// text (9999-12-31T23:59:59.999Z); it writes a number outside
// [0, maxRFC3339TS].
const maxRFC3339TS = 253402300799999

// jsonRaw is e as a JSON object, with its strings' bytes as they are
// (only '"', '\' and control characters escaped), and the members opts
// set written instead.
func jsonRaw(e *event.Event, opts ...jsonOpt) []byte {
	var p jsonParts
	for _, o := range opts {
		o(&p)
	}
	if p.key == "" {
		p.key = jsonQuote(e.Key)
	}
	if p.value == "" {
		p.value = jsonNumber(e.Value)
	}
	if p.ts == "" {
		if e.TS >= 0 && e.TS <= maxRFC3339TS {
			p.ts = `"` + time.UnixMilli(e.TS).UTC().Format("2006-01-02T15:04:05.000Z") + `"`
		} else {
			p.ts = strconv.FormatInt(e.TS, 10)
		}
	}
	if p.dims == "" && len(e.Dims) > 0 {
		b := []byte{'{'}
		for i, d := range e.Dims {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(append(append(b, jsonQuote(d.Name)...), ':'), jsonQuote(d.Value)...)
		}
		p.dims = string(append(b, '}'))
	}
	b := make([]byte, 0, 160)
	b = append(append(b, `{"id":`...), jsonQuote(e.ID)...)
	b = append(append(b, `,"key":`...), p.key...)
	b = append(append(b, `,"type":`...), jsonQuote(e.Type)...)
	b = append(append(b, `,"value":`...), p.value...)
	b = append(append(b, `,"ts":`...), p.ts...)
	if p.dims != "" {
		b = append(append(b, `,"dims":`...), p.dims...)
	}
	for _, m := range p.extra {
		b = append(append(b, ','), m...)
	}
	return append(b, '}')
}

// jsonNumber is v as JSON text ("NaN" and the infinities as strings,
// which JSON numbers cannot be).
func jsonNumber(v float64) string {
	switch {
	case math.IsNaN(v):
		return `"NaN"`
	case math.IsInf(v, 1):
		return `"+Inf"`
	case math.IsInf(v, -1):
		return `"-Inf"`
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// jsonQuote is s as a JSON string whose bytes are s's, invalid UTF-8
// included: only '"', '\' and control characters are escaped.
func jsonQuote(s string) string { return `"` + jsonEscape(s) + `"` }

// jsonEscape is jsonQuote without the quotes.
func jsonEscape(s string) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(s)+2)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// Protobuf fields, written by hand (any field number, any wire type).

func protoVarint(b []byte, num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
}

func protoBytes(b []byte, num protowire.Number, s string) []byte {
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}

func protoFixed32(b []byte, num protowire.Number, v uint32) []byte {
	return protowire.AppendFixed32(protowire.AppendTag(b, num, protowire.Fixed32Type), v)
}

func protoFixed64(b []byte, num protowire.Number, v uint64) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(b, num, protowire.Fixed64Type), v)
}

// protoGroup is an empty group (start and end tag) of field num.
func protoGroup(b []byte, num protowire.Number) []byte {
	return protowire.AppendTag(protowire.AppendTag(b, num, protowire.StartGroupType), num, protowire.EndGroupType)
}

// protoDim is one dims map entry (field 6).
func protoDim(b []byte, name, value string) []byte {
	var entry []byte
	entry = protoBytes(entry, 1, name)
	entry = protoBytes(entry, 2, value)
	return protowire.AppendBytes(protowire.AppendTag(b, 6, protowire.BytesType), entry)
}
