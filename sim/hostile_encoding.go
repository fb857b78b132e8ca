package sim

// The hostile kinds of the value and of the encoding itself (hostile.go
// has the rest): numbers at and past the edges of a float64, members the
// contract does not know or repeats, broken syntax and the encodings'
// variants.

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/countlab/countlab/engine/event"
)

const twoTo53 = 1 << 53

func (g *Generator) hostileValueExtreme(at time.Duration, v int, _ bool) Item {
	it := g.accepted(at)
	e := &it.Event
	e.Key = g.cfg.KeyPrefix + "hv-" + strconv.FormatUint(it.Seq, 10) // alone in its windows: the sum is exact
	switch v % 7 {
	case 0:
		e.Value = twoTo53
	case 1:
		e.Value = -twoTo53
	case 2:
		e.Value = twoTo53 - 1
	case 3:
		e.Value = -(twoTo53 - 1)
	case 4:
		e.Value = 0
	case 5:
		e.Value = twoTo53
		it.Raw = jsonRaw(e, jsonValue("9.007199254740992e15"))
	default:
		e.Value = 1000
		it.Raw = jsonRaw(e, jsonValue("1E3"))
	}
	return it
}

func (g *Generator) hostileValueInvalid(at time.Duration, v int, _ bool) Item {
	it := g.refused(at)
	e := &it.Event
	// The protobuf form sends Value; JSON sends the text when there is one.
	vals := [...]struct {
		v    float64
		text string
	}{{twoTo53 + 2, "9007199254740993"}, {twoTo53 + 2, ""}, {-(twoTo53 + 2), ""}, {1e308, ""}, {-1e308, ""},
		{math.Inf(1), "1e309"}, {math.Inf(-1), "-1e309"}, {math.NaN(), `"NaN"`}, {math.Inf(1), `"Infinity"`},
		{math.Inf(-1), `"-Inf"`}, {math.Inf(1), `"+Inf"`}}
	x := vals[v%len(vals)]
	e.Value = x.v
	// On a key of its own: should an entry point wrongly accept it, only
	// its own window is off.
	e.Key = g.cfg.KeyPrefix + "hv-" + e.ID
	if x.text != "" {
		it.Raw = jsonRaw(e, jsonValue(x.text))
	}
	return it
}

func (g *Generator) hostileMemberUnknown(at time.Duration, v int, proto bool) Item {
	if proto {
		// Unknown fields are skipped: accepted, counted.
		it := g.accepted(at)
		b := event.AppendProto(nil, &it.Event)
		switch v % 5 {
		case 0:
			b = protoVarint(b, 7, 1)
		case 1:
			b = protoBytes(b, 16, "unknown")
		case 2:
			b = protoFixed32(b, 100, 42)
		case 3:
			b = protoFixed64(b, 14, 42)
		default:
			b = protoGroup(b, 20)
		}
		it.RawProto = b
		return it
	}
	it := g.refused(at)
	extra := [...]string{`"colour":"red"`, `"Value":1`, `"ts_ms":` + strconv.FormatInt(it.Event.TS, 10), `"ID":"x"`, `"meta":{"a":[1,2]}`}
	it.Raw = jsonRaw(&it.Event, jsonExtra(extra[v%len(extra)]))
	return it
}

func (g *Generator) hostileMemberDuplicate(at time.Duration, v int, proto bool) Item {
	if proto {
		// The last of a repeated field counts: accepted with the last
		// values (a decoy first).
		it := g.accepted(at)
		e := &it.Event
		var b, tail []byte
		switch v % 5 {
		case 0:
			b = protoBytes(b, 1, e.ID+"-decoy")
		case 1:
			b = protoBytes(b, 2, e.Key+"-decoy")
		case 2:
			b = protoFixed64(b, 4, math.Float64bits(999))
			tail = protoFixed64(tail, 4, math.Float64bits(e.Value)) // even when 1
		case 3:
			b = protoVarint(b, 5, uint64(e.TS-msHour))
		default:
			if len(e.Dims) == 0 {
				e.Dims = []event.Dim{{Name: "hostile", Value: "last"}}
			}
			b = protoDim(b, e.Dims[0].Name, "decoy")
		}
		it.RawProto = append(event.AppendProto(b, e), tail...)
		return it
	}
	it := g.refused(at)
	e := &it.Event
	var extra string
	switch v % 6 {
	case 0:
		extra = `"id":` + jsonQuote(e.ID)
	case 1:
		extra = `"key":` + jsonQuote(e.Key)
	case 2:
		extra = `"type":` + jsonQuote(e.Type)
	case 3:
		extra = `"value":2`
	case 4:
		extra = `"ts":` + strconv.FormatInt(e.TS, 10)
	default:
		it.Raw = jsonRaw(e, jsonDims(`{"hostile":"a","hostile":"b"}`))
		return it
	}
	it.Raw = jsonRaw(e, jsonExtra(extra))
	return it
}

func (g *Generator) hostileSyntax(at time.Duration, v int, _ bool) Item {
	it := g.refused(at)
	e := &it.Event
	switch v % 10 {
	case 6: // what Python's json.dumps writes for a NaN
		it.Raw = jsonRaw(e, jsonValue(`NaN`))
	case 7:
		it.Raw = jsonRaw(e, jsonValue(`-Infinity`))
	case 8: // a trailing comma
		raw := jsonRaw(e)
		it.Raw = append(raw[:len(raw)-1:len(raw)-1], ",}"...)
	case 9: // a raw tab in a string (JSON wants \t)
		it.Raw = jsonRaw(e, jsonKey("\"tab\tkey\""))
	case 0:
		it.Raw = []byte(`42`)
	case 1:
		it.Raw = []byte(`"event"`)
	case 2:
		it.Raw = []byte(`null`)
	case 3:
		it.Raw = []byte(`true`)
	case 4:
		it.Raw = []byte(`[]`)
	default:
		it.Raw = append(append([]byte{'['}, jsonRaw(e)...), ']')
	}
	switch v % 3 {
	case 0: // id as a varint
		it.RawProto = protoVarint(event.AppendProto(nil, e), 1, 7)
	case 1: // value as a varint
		it.RawProto = protoVarint(event.AppendProto(nil, e), 4, 7)
	default: // a string longer than the message
		it.RawProto = append(event.AppendProto(nil, e), 2<<3|2, 50, 'k')
	}
	return it
}

// hostileVariant makes a fresh event and queues, right after it in the
// same batch, an event with its key and id and another payload.
func (g *Generator) hostileVariant(at time.Duration, v int, _ bool) Item {
	it := g.accepted(at)
	it.withNext = true
	d := it
	d.Kind = KindDuplicate
	d.withNext = false
	e := &d.Event
	switch v % 4 {
	case 0:
		e.Value++
	case 1:
		if len(g.cfg.Types) > 1 {
			i := slices.IndexFunc(g.cfg.Types, func(t TypeSpec) bool { return t.Name == e.Type })
			e.Type = g.cfg.Types[(i+1)%len(g.cfg.Types)].Name
		} else {
			e.Value += 2
		}
	case 2:
		e.TS -= 2000
	default:
		if len(e.Dims) == 0 {
			e.Dims = []event.Dim{{Name: "variant", Value: "1"}}
		} else {
			e.Dims = slices.Clone(e.Dims)
			e.Dims[0].Value = "variant"
		}
	}
	g.pending = append(g.pending, d)
	return it
}
