package event

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Regression tests of issue 12 ("Exactness you can trust"): each input was
// acknowledged and then lost or mis-counted; now each is refused with the
// reason code of docs/ingest-contract.md, in JSON and protobuf alike.

// refNow is the reference time of these tests: 2026-11-23T15:21:17Z.
const refNow = 1795447277000

// verdict decodes the JSON object in and validates it at ref: "" when it
// may be counted, else the reason code.
func verdict(t *testing.T, v *Validator, in string, ref int64) string {
	t.Helper()
	var e Event
	_, err := Decode([]byte(in), &e)
	if err = v.ValidateDecodedAt(&e, ref, err); err != nil {
		if ErrorCode(err) == "" {
			t.Fatalf("ValidateDecodedAt(%q) = %v without a code", in, err)
		}
		return ErrorCode(err)
	}
	return ""
}

func event(ts string, more ...string) string {
	return `{"id":"e-1","key":"k","type":"VIEW","ts":` + ts + strings.Join(more, "") + `}`
}

func TestContractCodes(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	f := func(in, want string) {
		t.Helper()
		if got := verdict(t, v, in, refNow); got != want {
			t.Errorf("verdict(%s) = %q, want %q", in, got, want)
		}
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(refNow+d.Milliseconds(), 10) }
	f(event(ms(0)), "")

	// F1: an event ahead of its receive time by more than the future skew
	// (5 min), or older than the maximum age (7 days).
	f(event(ms(5*time.Minute)), "")
	f(event(ms(5*time.Minute+time.Millisecond)), CodeTSFuture)
	f(event(ms(time.Hour)), CodeTSFuture)
	f(event(`"2999-01-01T00:00:00Z"`), CodeTSFuture)
	f(event(ms(-7*24*time.Hour)), "")
	f(event(ms(-7*24*time.Hour-time.Millisecond)), CodeTSTooOld)
	f(event(`"2000-01-01T00:00:00Z"`), CodeTSTooOld)

	// F7: unix seconds (and micro-, nanoseconds) taken for milliseconds.
	f(event(strconv.FormatInt(refNow/1000, 10)), CodeTSUnit)
	f(event(strconv.FormatInt(refNow*1000, 10)), CodeTSUnit)
	f(event(strconv.FormatInt(refNow*1000_000, 10)), CodeTSUnit)
	f(event(`"1970-01-21T18:44:07Z"`), CodeTSTooOld) // text has no unit to get wrong
	f(event("1"), CodeTSTooOld)
	f(event("0"), CodeTSTooOld) // ts_too_old (11) comes before ts_range (12)
	f(event("-5"), CodeTSTooOld)
	f(event(`"1970-01-01T00:00:00Z"`), CodeTSTooOld)
	f(`{"id":"e-1","key":"k","type":"VIEW"}`, CodeFieldMissing)
	f(`{"id":"e-1","key":"k","type":"VIEW","ts":null}`, CodeFieldMissing)

	// F3: values whose sum overflows a float64.
	f(event(ms(0), `,"value":1e308`), CodeValue)
	f(event(ms(0), `,"value":9007199254740992`), "")
	f(event(ms(0), `,"value":-9007199254740992`), "")
	f(event(ms(0), `,"value":9007199254740993`), CodeValue) // its double is 2^53, but the number is beyond it
	f(event(ms(0), `,"value":9.007199254740993e15`), CodeValue)
	f(event(ms(0), `,"value":-9007199254740993`), CodeValue)
	f(event(ms(0), `,"value":9007199254740992.0`), "")
	f(event(ms(0), `,"value":9007199254740994`), CodeValue)

	// F4: a backslash in a key or a dim value.
	f(`{"id":"e","key":"bi\\","type":"VIEW","ts":`+ms(0)+`}`, CodeKey)
	f(`{"id":"e","key":"a\\\\b","type":"VIEW","ts":`+ms(0)+`}`, CodeKey)
	f(event(ms(0), `,"dims":{"c":"x\\"}`), CodeDims)

	// F2: invalid UTF-8 and lone surrogates are refused, never rewritten.
	f("{\"id\":\"u-\xff\",\"key\":\"k\",\"type\":\"VIEW\",\"ts\":"+ms(0)+"}", CodeUTF8)
	f("{\"id\":\"u-\xfe\",\"key\":\"k\",\"type\":\"VIEW\",\"ts\":"+ms(0)+"}", CodeUTF8)
	f("{\"id\":\"e\",\"key\":\"bi-\xff\xfe\",\"type\":\"VIEW\",\"ts\":"+ms(0)+"}", CodeUTF8)
	f(`{"id":"e","key":"bi-\ufffd\ufffd","type":"VIEW","ts":`+ms(0)+`}`, "")
	f(`{"id":"e","key":"\ud800","type":"VIEW","ts":`+ms(0)+`}`, CodeUTF8)
	f(`{"id":"e","key":"\udfff\ud800","type":"VIEW","ts":`+ms(0)+`}`, CodeUTF8)
	f(`{"id":"e","key":"\ud83d\ude00","type":"VIEW","ts":`+ms(0)+`}`, "")

	// The order of the checks decides between two faults.
	f(`{"id":"`+strings.Repeat("x", 129)+`","key":"a\\","type":"X","value":1e308,"ts":1}`, CodeID)
	f(`{"id":"e","key":"a\\","type":"X","value":1e308,"ts":1}`, CodeKey)
	f(`{"id":"e","key":"k","type":"X","value":1e308,"ts":1}`, CodeType)
	f(`{"id":"e","key":"k","type":"VIEW","value":1e308,"ts":1}`, CodeValue)
	f(`{"id":"e","key":"k","type":"VIEW","ts":1,"dims":{"a":""}}`, CodeTSTooOld)
	f(event(ms(0), `,"dims":{"a":""}`), CodeDims)
	f(event(ms(0), `,"foo":1`), CodeFieldUnknown)
	f(event(ms(0), `,"id":"again"`), CodeFieldDuplicate)
	f(event(ms(0), `,"dims":{"a":"1","a":"1"}`), CodeFieldDuplicate)
	// Within check 3, the first fault in the object's order.
	f(event(ms(0), `,"dims":{"a":"1","a":"2"},"foo":1`), CodeFieldDuplicate)
	f(event(ms(0), `,"foo":1,"dims":{"a":"1","a":"2"}`), CodeFieldUnknown)
	f(event(ms(0), `,"dims":{"a":1,"\u0061":"2"}`), CodeFieldDuplicate)
	f(`{"id":"a","id":"b","foo":1}`, CodeFieldDuplicate)
	// A member of the wrong JSON type fails at its field's place in the
	// order (id, key, type, value, ts, dims), not before the checks of
	// the fields ahead of it.
	long := strings.Repeat("i", 129)
	f(`{"id":"1","type":"SHARE","ts":1.5,"key":"k\\b"}`, CodeKey)
	f(`{"id":"1","type":"view","key":"k","ts":[]}`, CodeType)
	f(`{"id":"`+long+`","ts":[],"key":"k","type":"VIEW"}`, CodeID)
	f(`{"value":"1","key":"k\\b","ts":0,"id":"1","type":"VIEW"}`, CodeKey)
	f(`{"ts":`+ms(0)+`,"id":"`+long+`","type":"LIKE","key":"k","value":1e400}`, CodeID)
	f(`{"id":"1","key":"k","type":"PURCHASE","value":-1e400,"ts":1.5}`, CodeType)
	f(`{"type":"SHARE","ts":`+ms(-8*24*time.Hour)+`,"dims":"US","id":"2","key":"k"}`, CodeTSTooOld)
	f(`{"id":"3","key":"k","ts":`+ms(time.Hour)+`,"type":"VIEW","dims":{"a":1},"value":6}`, CodeTSFuture)
	f(event(ms(0), `,"value":-9007199254740994,"dims":{"a":1}`), CodeValue)
	f(`{"key":"k","type":"CLICK","value":-9007199254740994,"ts":[],"id":"1"}`, CodeValue)
	f(`{"id":"1","type":"VIEW","ts":"2026-13-01T00:00:00Z","key":"del\u007f"}`, CodeKey)
	f(`{"value":"1","id":"","key":"k","type":"VIEW","ts":1}`, CodeFieldMissing)
	f(`{"value":"1","id":1,"key":"k","type":"VIEW"}`, CodeFieldMissing) // ts
	f(`{"value":"1","id":1,"key":"k","type":"VIEW","ts":1}`, CodeID)    // a wrong-typed id is not missing
	f(event(`"yesterday"`), CodeTSRange)
	f(event(ms(0), `,"dims":[]`), CodeDims)
	// Trailing bytes are syntax, whatever else is wrong.
	f(`{"value":64,"ts":"yesterday","type":"VIEW","id":"1","key":"k"}`+"\x00", CodeSyntax)
	f(`{"id":"1","id":"1"}{}`, CodeSyntax)
	f(` {"id":"","type":"VIEW","ts":1e12,"key":"k"}x`, CodeSyntax)
	f("{\"key\":\"ok\xff\"}{}", CodeSyntax)
	// "\n{" that is JSON stays JSON (a protobuf Event with a 123-byte id
	// starts so too, but only a JSON syntax error tries protobuf).
	f("\n"+`{"type":"VIEW","value":40,"ts":`+ms(0)+`,"Key":1,"key":"k","id":""}`, CodeFieldUnknown)
	f("\n"+`{"value":34,"id":"","key":"k","ts":`+ms(0)+`,"type":"VIEW","dims":{"x":"1","x":"2"}}`, CodeFieldDuplicate)
	f("\n"+`{"id":"1","key":"k","type":"VIEW","ts":[]}`, CodeTSRange)
	f("\n"+`{"id":"1","key":"k","type":"VIEW","ts":`+ms(0)+`}`, "")
	many := `,"dims":{`
	for i := range 40 {
		many += `"d` + strconv.Itoa(i) + `":"v",`
	}
	f(event(ms(0), many+`"d7":"again"}`), CodeFieldDuplicate)
	f(event(ms(0), many+`"d40":"v"}`), CodeDims) // 41 dims: too many, no duplicate
}

// TestContractTSRange: F5, window starts after 2262 overflowed InfluxDB's
// nanosecond timestamps (a year-2999 total was stored at 1830).
func TestContractTSRange(t *testing.T) {
	// Received when it happened: only ts_range applies.
	v, err := NewValidator(WindowSizes(time.Minute, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	lastHour := time.Date(2262, 4, 11, 22, 59, 59, 999e6, time.UTC).UnixMilli()
	for _, c := range []struct {
		ts   int64
		want string
	}{
		{lastHour, ""},
		{lastHour + 1, CodeTSRange}, // its hour window ends at 2262-04-12T00:00:00Z
		{time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), CodeTSRange},
		{math.MaxInt64, CodeTSRange},
	} {
		e := Event{ID: "e", Key: "k", Type: "VIEW", Value: 1, TS: c.ts}
		if got := ErrorCode(v.ValidateAt(&e, c.ts)); got != c.want {
			t.Errorf("ValidateAt(ts %d) = %q, want %q", c.ts, got, c.want)
		}
	}
	// Sizes that do not nest: the 7-minute window of this ts ends after
	// the limit, its 11-minute window before.
	v, err = NewValidator(WindowSizes(7*time.Minute, 11*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	e := Event{ID: "e", Key: "k", Type: "VIEW", Value: 1, TS: 9223371780000}
	if got := ErrorCode(v.ValidateAt(&e, e.TS)); got != CodeTSRange {
		t.Errorf("7m and 11m windows: ValidateAt(ts %d) = %q, want ts_range", e.TS, got)
	}
}

// TestContractProtoAgrees: protobuf gives the same verdict as JSON on the
// same event, ts_ms being a number.
func TestContractProtoAgrees(t *testing.T) {
	v, _ := NewValidator()
	for _, e := range []Event{
		{ID: "u-\xff", Key: "k", Type: "VIEW", Value: 1, TS: refNow},
		{ID: "e", Key: "bi-\xff\xfe", Type: "VIEW", Value: 1, TS: refNow},
		{ID: "e", Key: "k", Type: "VIEW", Value: 1, TS: refNow, Dims: []Dim{{"a", "\xff"}}},
		{ID: "e", Key: "k", Type: "VIEW", Value: 1, TS: refNow / 1000},
		{ID: "e", Key: "k", Type: "VIEW", Value: 1, TS: refNow + 3600_000},
		{ID: "e", Key: "k", Type: "VIEW", Value: 1e308, TS: refNow},
		{ID: "e", Key: `k\`, Type: "VIEW", Value: 1, TS: refNow},
		{ID: "e", Key: "k", Type: "VIEW", Value: 1},
		{Key: "k", Type: "VIEW", Value: 1, TS: refNow},
		{ID: "e", Key: "k", Type: "VIEW", Value: 1, TS: refNow},
	} {
		codeOfProto := func() string {
			var got Event
			if err := DecodeProto(AppendProto(nil, &e), &got); err != nil {
				return ErrorCode(err)
			}
			return ErrorCode(v.ValidateAt(&got, refNow))
		}()
		j := AppendJSON(nil, &e)
		if strings.Contains(string(j), `\ufffd`) {
			// AppendJSON writes invalid UTF-8 as U+FFFD; send the bytes.
			j = []byte(strings.ReplaceAll(string(j), `\ufffd`, "\xff"))
		}
		// As a number, like ts_ms, or absent as ts_ms 0 is.
		if e.TS == 0 {
			j = []byte(strings.Replace(string(j), `,"ts":"1970-01-01T00:00:00Z"`, "", 1))
		}
		j = []byte(strings.Replace(string(j), `"ts":"`+string(appendRFC3339(nil, e.TS))+`"`, `"ts":`+strconv.FormatInt(e.TS, 10), 1))
		if codeJSON := verdict(t, v, string(j), refNow); codeJSON != codeOfProto {
			t.Errorf("%s: JSON %s says %q, protobuf says %q", describe(&e), j, codeJSON, codeOfProto)
		}
	}
}

// TestSentID: an event refused at decoding still reports the id (and key)
// it was sent with.
func TestSentID(t *testing.T) {
	for _, in := range []string{
		`{"foo":1,"id":"e-7","key":"k"}`,
		"{\"id\":\"e-7\",\"key\":\"k\",\"type\":\"\xff\"}",
		`{"value":"x","id":"e-7","key":"k"}`,
	} {
		var e Event
		if err := DecodeJSON([]byte(in), &e); err == nil || e.ID != "e-7" || e.Key != "k" {
			t.Errorf("DecodeJSON(%q) = %v with id %q key %q, want an error and id e-7, key k", in, err, e.ID, e.Key)
		}
	}
	var e Event
	p := AppendProto(nil, &Event{ID: "e-7", Key: "k", Type: "\xff", TS: 1})
	if err := DecodeProto(p, &e); err == nil || e.ID != "e-7" || e.Key != "k" {
		t.Errorf("DecodeProto = %v with id %q key %q, want an error and id e-7, key k", err, e.ID, e.Key)
	}
}
