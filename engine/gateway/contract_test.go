package gateway

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
)

// TestContractVerdicts: what curl sent against `countlab up` and saw
// acknowledged, then lost or mis-counted (issue 12), is refused with the
// reason code of docs/ingest-contract.md, reported with the id as sent, and
// dead-lettered with the code; the good events' records carry the receive
// time as their timestamp.
func TestContractVerdicts(t *testing.T) {
	c, topics := newCluster(t)
	_, srv := newServer(t, c, topics)
	now := time.Now().UnixMilli()
	ms := func(d time.Duration) string { return strconv.FormatInt(now+d.Milliseconds(), 10) }
	ev := func(id, key, ts string, more ...string) string {
		return `{"id":` + strconv.Quote(id) + `,"key":` + strconv.Quote(key) + `,"type":"VIEW","ts":` + ts + strings.Join(more, "") + `}`
	}
	cases := []struct {
		elem, id, code string
	}{
		{ev("good-1", "k", ms(0)), "good-1", ""},
		{ev("good-2", "k", ms(4*time.Minute)), "good-2", ""},
		// F1: ahead of the receive time by more than 5 minutes.
		{ev("f1-hour", "k", ms(time.Hour)), "f1-hour", event.CodeTSFuture},
		{ev("f1-2999", "k", `"2999-01-01T00:00:00Z"`), "f1-2999", event.CodeTSFuture},
		{ev("old", "k", ms(-8*24*time.Hour)), "old", event.CodeTSTooOld},
		// F2: invalid UTF-8 and lone surrogates, never rewritten.
		{"{\"id\":\"u-\xff\",\"key\":\"k\",\"type\":\"VIEW\",\"ts\":" + ms(0) + "}", "u-\xff", event.CodeUTF8},
		{"{\"id\":\"u-\xfe\",\"key\":\"k\",\"type\":\"VIEW\",\"ts\":" + ms(0) + "}", "u-\xfe", event.CodeUTF8},
		{"{\"id\":\"f2-key\",\"key\":\"bi-\xff\xfe\",\"type\":\"VIEW\",\"ts\":" + ms(0) + "}", "f2-key", event.CodeUTF8},
		{ev("f2-real", "bi-\ufffd\ufffd", ms(0)), "f2-real", ""},
		{`{"id":"f2-sur","key":"\ud800","type":"VIEW","ts":` + ms(0) + `}`, "f2-sur", event.CodeUTF8},
		// F3: sums that would overflow.
		{ev("f3", "k", ms(0), `,"value":1e308`), "f3", event.CodeValue},
		// F4: a key InfluxDB cannot store byte-exact.
		{ev("f4", `bi\`, ms(0)), "f4", event.CodeKey},
		{ev("f4-dim", "k", ms(0), `,"dims":{"c":"x\\"}`), "f4-dim", event.CodeDims},
		// F7: unix seconds.
		{ev("f7", "k", strconv.FormatInt(now/1000, 10)), "f7", event.CodeTSUnit},
		// Malformed, yet reported with the id sent.
		{`{"id":"unk","key":"k","foo":1}`, "unk", event.CodeFieldUnknown},
		{`{"id":"dup","id":"dup2"}`, "dup", event.CodeFieldDuplicate},
		{`{"id":"nokey","type":"VIEW","ts":` + ms(0) + `}`, "nokey", event.CodeFieldMissing},
		{`{"id":"badval","key":"k","type":"VIEW","ts":` + ms(0) + `,"value":"1"}`, "badval", event.CodeValue},
		// A wrong-typed member fails at its field's place: the key first.
		{`{"id":"order","type":"VIEW","ts":1.5,"key":"k\\b"}`, "order", event.CodeKey},
		{`{"id":"order2","key":"k","type":"VIEW","ts":` + ms(time.Hour) + `,"dims":{"a":1}}`, "order2", event.CodeTSFuture},
		{`{"id":"","key":"k","type":"VIEW","ts":` + ms(0) + `,"value":"1"}`, "", event.CodeFieldMissing},
		{`[1]`, "", event.CodeSyntax},
	}
	var elems []string
	for _, c := range cases {
		elems = append(elems, c.elem)
	}
	before := time.Now().UnixMilli()
	r := post(t, srv.URL, "application/json", jsonArray(elems), "")
	after := time.Now().UnixMilli()
	if r.code != http.StatusMultiStatus || r.resp.Accepted != 3 || r.resp.Rejected != len(cases)-3 {
		t.Fatalf("status %d: %s", r.code, r.raw)
	}
	// The answer, by index: reason and id as sent (invalid UTF-8 in the
	// id comes back as U+FFFD in the JSON answer).
	got := map[int]Result{}
	for _, res := range r.resp.Results {
		got[res.Index] = res
	}
	for i, c := range cases {
		res, rejected := got[i]
		switch {
		case c.code == "" && rejected:
			t.Errorf("%d %s: rejected %+v, want accepted", i, c.elem, res)
		case c.code == "":
		case !rejected:
			t.Errorf("%d %s: accepted, want reason %s", i, c.elem, c.code)
		case res.Reason != c.code || res.ID != strings.ToValidUTF8(c.id, "\ufffd") || res.Status != StatusRejected || res.Error == "":
			t.Errorf("%d %s: %+v, want reason %s and id %q", i, c.elem, res, c.code, c.id)
		}
	}
	// Dead letters: the bytes sent, both reason headers, the receive time.
	codes := map[string]int{}
	for _, rec := range consumeAll(t, c, topics.DeadLetter, len(cases)-3) {
		code := header(rec, event.HeaderReasonCode)
		codes[code]++
		if header(rec, kafka.HeaderReason) == "" || !bytes.Contains(jsonArray(elems), rec.Value) {
			t.Errorf("dead letter %q: headers %v", rec.Value, rec.Headers)
		}
		if ts := rec.Timestamp.UnixMilli(); ts < before || ts > after {
			t.Errorf("dead letter timestamp %d outside the request's [%d, %d]", ts, before, after)
		}
	}
	for _, c := range cases {
		if c.code != "" {
			codes[c.code]--
		}
	}
	for code, n := range codes {
		if n != 0 {
			t.Errorf("dead letters with code %q: %+d", code, n)
		}
	}
	// Accepted: one timestamp, the receive time, for every record.
	var stamp int64
	for _, rec := range consumeAll(t, c, topics.Events, 3) {
		ts := rec.Timestamp.UnixMilli()
		if ts < before || ts > after || stamp != 0 && ts != stamp {
			t.Errorf("record timestamp %d, want one receive time in [%d, %d]", ts, before, after)
		}
		stamp = ts
	}
}
