package difftest

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// input is one record value and its reference time (the record timestamp,
// or the gateway's receive time).
type input struct {
	value []byte
	ref   int64
	// partition is where a Kafka-direct producer put it (-1: anywhere).
	partition int32
}

// gen makes random and adversarial events around a reference time.
type gen struct {
	r   *rand.Rand
	ref int64
	// clean makes mostly countable events (valid keys, ids from a small
	// range, so duplicates with other payloads): for the window tests.
	clean bool
}

func newGen(seed uint64, ref int64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), ref: ref}
}

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// Keys and ids come from small sets, so (key, id) repeats: duplicates with
// other payloads, the same id under other keys.
var (
	keys = []string{"video-1", "video-2", "a b", "k,=x", `q"uote`, "ünï", "😀", "#hot", "a#1", "x y=z,w", "tab\there", "k\\b",
		"del\x7f", "c1\u0085", "", strings.Repeat("L", 256), strings.Repeat("L", 257), "ok\xff", "sp "}
	ids   = []string{"1", "2", "3", "e-1", "e-2", "ü", "", strings.Repeat("i", 128), strings.Repeat("i", 129), "nul\x00"}
	types = []string{"VIEW", "VIEW", "CLICK", "LIKE", "IMPRESSION", "VISIT", "SHARE", "view", "", "PURCHASE"}
	// the countable ones, for clean events
	cleanKeys  = []string{"video-1", "video-2", "a b", "k,=x", `q"uote`, "ünï", "😀", "#hot", "a#1", "x y=z,w", "sp "}
	cleanTypes = []string{"VIEW", "VIEW", "CLICK", "LIKE"}
	cleanDimNs = []string{"country", "device", "a", "Z_9"}
	cleanDimVs = []string{"US", "ios", "x y", "ü", "a b c"}
	dimNs      = []string{"country", "device", "a", "Z_9", "bad name", "", strings.Repeat("n", 64), strings.Repeat("n", 65), "ü"}
	dimVs      = []string{"US", "ios", "x y", "a|b", "a=b", "a,b", `a\b`, "", strings.Repeat("v", 128), strings.Repeat("v", 129), "ctl\x01", "ü"}
)

// ts is an event time: mostly near ref (on time, out of order, late),
// sometimes at a bound or in the wrong unit.
func (g *gen) ts() int64 {
	n := g.r.IntN(12)
	if g.clean && n >= 2 && n <= 3 {
		n = 11
	}
	switch n {
	case 0:
		return g.ref - int64(g.r.IntN(3))*60_000 - int64(g.r.IntN(60_000)) // minutes late
	case 1:
		return g.ref + int64(g.r.IntN(400_000)) // ahead, maybe past the skew
	case 2:
		return g.pickTS(g.ref/1000, g.ref*1000, g.ref*1_000_000, 0, -1, 1, math.MaxInt64, math.MinInt64,
			g.ref-7*86_400_000, g.ref-7*86_400_000-1, g.ref+300_000, g.ref+300_001)
	case 3:
		return g.ref - 8*86_400_000
	}
	return g.ref - int64(g.r.IntN(20_000)) // within the out-of-orderness and lateness
}

func (g *gen) pickTS(xs ...int64) int64 { return xs[g.r.IntN(len(xs))] }

func (g *gen) value() (string, float64, bool) {
	if g.clean {
		v := float64(g.r.IntN(20)) / 2
		return strconv.FormatFloat(v, 'g', -1, 64), v, g.r.IntN(4) > 0
	}
	switch g.r.IntN(10) {
	case 0:
		return "", 0, false
	case 1:
		return g.pick("1e400", "-1e400", "9007199254740992", "9007199254740993", "-9007199254740994", "1e-400", "0.1", "-0", "1E2", `"1"`, "null", "true"), 0, true
	}
	v := float64(g.r.IntN(100))
	return strconv.FormatFloat(v, 'g', -1, 64), v, true
}

// jsonString quotes s for JSON, leaving invalid UTF-8 bytes raw (as a
// hostile producer would send them), sometimes as \u escapes.
func (g *gen) jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f || g.chance(0.02) && c < 0x80:
			b.WriteString(`\u00` + strconv.FormatUint(uint64(c>>4), 16) + strconv.FormatUint(uint64(c&15), 16))
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

type member struct{ name, value string }

// jsonEvent is one JSON event, perhaps malformed.
func (g *gen) jsonEvent() []byte {
	var ms []member
	if !g.chance(0.03) {
		ms = append(ms, member{"id", g.jsonString(g.id())})
	}
	if !g.chance(0.03) {
		ms = append(ms, member{"key", g.jsonString(g.key())})
	}
	if !g.chance(0.03) {
		ms = append(ms, member{"type", g.jsonString(g.typ())})
	}
	if v, _, ok := g.value(); ok && v != "" {
		ms = append(ms, member{"value", v})
	}
	if !g.chance(0.03) {
		ts := g.ts()
		switch g.r.IntN(8) {
		case 0:
			ms = append(ms, member{"ts", `"` + rfc3339(ts, g.r.IntN(4)) + `"`})
		case 1:
			ms = append(ms, member{"ts", g.pick(`"2026-13-01T00:00:00Z"`, `"yesterday"`, `1.5`, `1e12`, `null`, `"1970-01-01T00:00:00Z"`, `99999999999999999999`, `[]`)})
		default:
			ms = append(ms, member{"ts", strconv.FormatInt(ts, 10)})
		}
	}
	if g.chance(0.4) {
		var d []string
		for range g.r.IntN(4) {
			n, v := g.dim()
			d = append(d, g.jsonString(n)+":"+g.jsonString(v))
		}
		if g.chance(0.05) && !g.clean {
			for i := range 17 {
				d = append(d, `"d`+strconv.Itoa(i)+`":"v"`)
			}
		}
		v := "{" + strings.Join(d, ",") + "}"
		if g.chance(0.05) && !g.clean {
			v = g.pick(`[]`, `"US"`, `{"a":1}`, `{"a":null}`)
		}
		ms = append(ms, member{"dims", v})
	}
	if g.chance(0.05) && !g.clean {
		ms = append(ms, member{g.pick("extra", "ID", "Key", "timestamp"), "1"})
	}
	if g.chance(0.05) && len(ms) > 0 && !g.clean {
		ms = append(ms, ms[g.r.IntN(len(ms))])
	}
	g.r.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
	var b strings.Builder
	b.WriteString(g.pick("", "", "", " ", "\n", "\t"))
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(g.jsonString(m.name))
		b.WriteByte(':')
		b.WriteString(m.value)
	}
	b.WriteByte('}')
	return g.mutate([]byte(b.String()))
}

// protoEvent is one protobuf countlab.v1.Event, perhaps malformed.
func (g *gen) protoEvent() []byte {
	var b []byte
	str := func(n protowire.Number, s string) {
		b = protowire.AppendString(protowire.AppendTag(b, n, protowire.BytesType), s)
	}
	fields := []func(){
		func() { str(1, g.id()) },
		func() { str(2, g.key()) },
		func() { str(3, g.typ()) },
		func() {
			if _, v, ok := g.value(); ok {
				if g.chance(0.1) && !g.clean {
					v = g.pickF(math.NaN(), math.Inf(1), 1<<53+2, -(1 << 53), 0.5)
				}
				b = protowire.AppendFixed64(protowire.AppendTag(b, 4, protowire.Fixed64Type), math.Float64bits(v))
			}
		},
		func() {
			b = protowire.AppendVarint(protowire.AppendTag(b, 5, protowire.VarintType), uint64(g.ts()))
		},
		func() {
			for range g.r.IntN(3) {
				dn, dv := g.dim()
				e := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), dn)
				e = protowire.AppendString(protowire.AppendTag(e, 2, protowire.BytesType), dv)
				b = protowire.AppendBytes(protowire.AppendTag(b, 6, protowire.BytesType), e)
			}
		},
	}
	g.r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	for _, f := range fields {
		if !g.chance(0.03) {
			f()
		}
	}
	switch g.r.IntN(30) {
	case 0:
		b = protowire.AppendVarint(protowire.AppendTag(b, 9, protowire.VarintType), 1) // unknown: skipped
	case 1:
		str(2, "again") // a field twice
	case 2:
		b = protowire.AppendVarint(protowire.AppendTag(b, 2, protowire.VarintType), 1) // wrong wire type
	}
	return g.mutate(b)
}

func (g *gen) pickF(xs ...float64) float64 { return xs[g.r.IntN(len(xs))] }

func (g *gen) id() string {
	if g.clean {
		return "e" + strconv.Itoa(g.r.IntN(400))
	}
	return g.pick(ids...)
}

func (g *gen) key() string {
	if g.clean && !g.chance(0.02) {
		return g.pick(cleanKeys...)
	}
	return g.pick(keys...)
}

func (g *gen) typ() string {
	if g.clean && !g.chance(0.02) {
		return g.pick(cleanTypes...)
	}
	return g.pick(types...)
}

func (g *gen) dim() (string, string) {
	if g.clean && !g.chance(0.02) {
		return g.pick(cleanDimNs...), g.pick(cleanDimVs...)
	}
	return g.pick(dimNs...), g.pick(dimVs...)
}

// mutate sometimes breaks the bytes.
func (g *gen) mutate(b []byte) []byte {
	if !g.chance(0.08) || len(b) == 0 || g.clean && !g.chance(0.1) {
		return b
	}
	switch g.r.IntN(6) {
	case 0:
		return b[:g.r.IntN(len(b))]
	case 1:
		c := append([]byte(nil), b...)
		c[g.r.IntN(len(c))] ^= byte(1 << g.r.IntN(8))
		return c
	case 2:
		return append(append([]byte(nil), b...), g.pick("x", " ", "{}", "\n", "\x00")...)
	case 3:
		return append([]byte("["), append(append([]byte(nil), b...), ']')...)
	case 4:
		i := g.r.IntN(len(b))
		return append(append(append([]byte(nil), b[:i]...), g.pick("\xff", "\xc3", "\\ud800", `\udc00`)...), b[i:]...)
	}
	return nil
}

// next is one input: JSON or protobuf.
func (g *gen) next() input {
	ref := g.ref + int64(g.r.IntN(2000))
	if g.chance(0.3) {
		return input{value: g.protoEvent(), ref: ref, partition: -1}
	}
	return input{value: g.jsonEvent(), ref: ref, partition: -1}
}

// rfc3339 writes ts as RFC 3339 text with a fraction of digits digits and
// sometimes an offset or a lower-case t and z.
func rfc3339(ts int64, digits int) string {
	if ts < 0 || ts > 253402300799999 {
		return "9999-99-99T00:00:00Z"
	}
	secs, ms := ts/1000, ts%1000
	t := timeUTC(secs)
	s := t.Format("2006-01-02T15:04:05")
	if digits > 0 {
		frac := strconv.FormatInt(1000+ms, 10)[1:] + "999"
		s += "." + frac[:digits+1]
	}
	if digits == 2 {
		return timeUTC(secs+3600).Format("2006-01-02T15:04:05") + "+01:00"
	}
	if digits == 3 { // RFC 3339 section 5.6: T and Z may be lower case
		return s[:10] + "t" + s[11:] + "z"
	}
	return s + "Z"
}
