package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/event/eventpb"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// hotSplit is how the tests split the hot key "hot".
const hotSplit = 4

// wantRecordKey is the record key of an event, computed independently of
// the gateway: "hot#i" with i = FNV-1a-64(id) % hotSplit for the hot key.
func wantRecordKey(key, id string) string {
	if key != "hot" {
		return key
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	return key + "#" + strconv.FormatUint(h.Sum64()%hotSplit, 10)
}

// jsonValue is a record value decoded with encoding/json (independently of
// the event package).
type jsonValue struct {
	ID    string            `json:"id"`
	Key   string            `json:"key"`
	Type  string            `json:"type"`
	Value float64           `json:"value"`
	TS    time.Time         `json:"ts"`
	Dims  map[string]string `json:"dims"`
}

// badKind is one kind of malformed event: how to write it, the field its
// error must name, its reason code, and whether it was sent with an id (the
// gateway reports it as sent even when the event does not decode).
type badKind struct {
	name    string
	field   string
	code    string
	json    func(i int) string
	knownID bool
}

var badKinds = []badKind{
	{"element not an object", "event", "syntax", func(i int) string { return strconv.Quote(fmt.Sprintf("not-an-event-%d", i)) }, false},
	{"id not a string", "id", "id", func(i int) string {
		return fmt.Sprintf(`{"id":%d,"key":"k","type":"VIEW","value":1,"ts":%d}`, i, testTS)
	}, false},
	{"missing id", "id", "field_missing", func(i int) string {
		return fmt.Sprintf(`{"key":"missing-id-%d","type":"VIEW","value":1,"ts":%d}`, i, testTS)
	}, false},
	{"bad ts", "ts", "ts_range", func(i int) string {
		return fmt.Sprintf(`{"id":"bad-%d","key":"k","type":"VIEW","value":1,"ts":"yesterday"}`, i)
	}, true},
	{"unknown type", "type", "type", func(i int) string {
		return fmt.Sprintf(`{"id":"bad-%d","key":"k","type":"BOGUS","value":1,"ts":%d}`, i, testTS)
	}, true},
	{"value out of range", "value", "value", func(i int) string {
		return fmt.Sprintf(`{"id":"bad-%d","key":"k","type":"VIEW","value":1e999,"ts":%d}`, i, testTS)
	}, true},
	{"value NaN string", "value", "value", func(i int) string {
		return fmt.Sprintf(`{"id":"bad-%d","key":"k","type":"VIEW","value":"NaN","ts":%d}`, i, testTS)
	}, true},
}

var testTypes = []string{"VIEW", "CLICK", "LIKE"}

// goodEvent is the i-th good test event: 10% on the hot key.
func goodEvent(prefix string, i int) testEvent {
	e := testEvent{
		id:    fmt.Sprintf("%s-%06d", prefix, i),
		key:   fmt.Sprintf("video-%d", i%53),
		typ:   testTypes[i%len(testTypes)],
		value: float64(i%7) + 0.5,
		ts:    testTS + int64(i)*37,
	}
	if i%10 == 0 {
		e.key = "hot"
	}
	if i%3 == 0 {
		e.country = []string{"US", "DE", "JP"}[i%9/3]
	}
	return e
}

// TestJSONBatchesExact posts 10,000 JSON events in batches of 500, 1% of
// them malformed in several ways, and checks that every good event is in
// the events topic exactly once, keyed and partitioned right, and every bad
// one in the dead-letter topic with its reason.
func TestJSONBatchesExact(t *testing.T) {
	c, topics := newCluster(t)
	_, srv := newServer(t, c, topics, HotKeys(map[string]int{"hot": hotSplit}))

	const total, batchSize = 10_000, 500
	good := map[string]testEvent{}   // id -> event
	badReason := map[string]string{} // raw element -> expected field
	var elems []string
	var badIdx []int // indexes in the current batch
	var badFields, badCodes, badIDs []string
	nBad := 0
	for i := range total {
		if i%100 == 37 {
			k := badKinds[nBad%len(badKinds)]
			nBad++
			raw := k.json(i)
			elems = append(elems, raw)
			badReason[raw] = k.field
			badIdx = append(badIdx, len(elems)-1)
			badFields = append(badFields, k.field)
			badCodes = append(badCodes, k.code)
			if k.knownID {
				badIDs = append(badIDs, fmt.Sprintf("bad-%d", i))
			} else {
				badIDs = append(badIDs, "")
			}
		} else {
			e := goodEvent("a", i)
			good[e.id] = e
			elems = append(elems, e.json())
		}
		if len(elems) < batchSize && i != total-1 {
			continue
		}
		r := post(t, srv.URL, "application/json", jsonArray(elems), "")
		if r.code != http.StatusMultiStatus {
			t.Fatalf("batch ending at %d: status %d, want 207: %s", i, r.code, r.raw)
		}
		if r.resp.Accepted != len(elems)-len(badIdx) || r.resp.Rejected != len(badIdx) || r.resp.Failed != 0 {
			t.Fatalf("batch ending at %d: %+v, want %d accepted, %d rejected", i, r.resp, len(elems)-len(badIdx), len(badIdx))
		}
		if len(r.resp.Results) != len(badIdx) {
			t.Fatalf("results %+v, want indexes %v", r.resp.Results, badIdx)
		}
		for j, res := range r.resp.Results {
			if res.Index != badIdx[j] || res.ID != badIDs[j] || res.Status != StatusRejected || !strings.HasPrefix(res.Error, badFields[j]+": ") || res.Reason != badCodes[j] {
				t.Errorf("result %+v: want index %d, id %q rejected with reason %q and a %q error", res, badIdx[j], badIDs[j], badCodes[j], badFields[j])
			}
		}
		elems, badIdx, badFields, badCodes, badIDs = elems[:0], badIdx[:0], badFields[:0], badCodes[:0], badIDs[:0]
	}
	if len(good) != total-total/100 || nBad != total/100 {
		t.Fatalf("test setup: %d good, %d bad", len(good), nBad)
	}

	seen := map[string]bool{}
	for _, rec := range consumeAll(t, c, topics.Events, len(good)) {
		var v jsonValue
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			t.Fatalf("record value %s: %v", rec.Value, err)
		}
		want, ok := good[v.ID]
		switch {
		case !ok:
			t.Fatalf("unexpected event %s in the events topic", rec.Value)
		case seen[v.ID]:
			t.Fatalf("event %s produced twice", v.ID)
		}
		seen[v.ID] = true
		if v.Key != want.key || v.Type != want.typ || v.Value != want.value || v.TS.UnixMilli() != want.ts || v.Dims["country"] != want.country || len(v.Dims) > 1 {
			t.Errorf("event %s came out as %s, want %+v", v.ID, rec.Value, want)
		}
		if k := wantRecordKey(want.key, want.id); string(rec.Key) != k {
			t.Errorf("event %s: record key %q, want %q", v.ID, rec.Key, k)
		}
		if p := wantPartition(topics.Events, rec.Key, testPartitions); rec.Partition != p {
			t.Errorf("event %s: partition %d, want murmur2 partition %d", v.ID, rec.Partition, p)
		}
	}
	if len(seen) != len(good) {
		t.Fatalf("%d distinct events in the topic, want %d", len(seen), len(good))
	}

	dl := consumeAll(t, c, topics.DeadLetter, nBad)
	seenBad := map[string]bool{}
	for _, rec := range dl {
		raw := string(bytes.TrimSpace(rec.Value))
		field, ok := badReason[raw]
		if !ok || seenBad[raw] {
			t.Fatalf("unexpected or repeated dead letter %q", raw)
		}
		seenBad[raw] = true
		if r := header(rec, kafka.HeaderReason); !strings.HasPrefix(r, field+": ") {
			t.Errorf("dead letter %s: reason %q, want a %q error", raw, r, field)
		}
		if s := header(rec, kafka.HeaderSource); s != Source {
			t.Errorf("dead letter %s: source %q, want %q", raw, s, Source)
		}
	}
}

// TestProtobufBatch posts an EventBatch built with the generated eventpb
// code, with a valid-looking but invalid event and an undecodable element.
func TestProtobufBatch(t *testing.T) {
	c, topics := newCluster(t)
	_, srv := newServer(t, c, topics, HotKeys(map[string]int{"hot": hotSplit}))

	const n = 300
	want := map[string]*eventpb.Event{}
	batch := &eventpb.EventBatch{}
	for i := range n {
		te := goodEvent("p", i)
		e := &eventpb.Event{Id: te.id, Key: te.key, Type: te.typ, Value: proto.Float64(te.value), TsMs: te.ts}
		if te.country != "" {
			e.Dims = map[string]string{"country": te.country}
		}
		want[e.Id] = e
		batch.Events = append(batch.Events, e)
	}
	// Index n: missing id; index n+1: unknown type; n+3 and n+4: a ts
	// an hour ahead, and one in seconds (after the undecodable n+2).
	batch.Events = append(batch.Events,
		&eventpb.Event{Key: "k", Type: "VIEW", TsMs: testTS},
		&eventpb.Event{Id: "bad-type", Key: "k", Type: "BOGUS", TsMs: testTS})
	body, err := proto.Marshal(batch)
	must(t, err)
	// Index n+2: an element that is not an Event message.
	body = protowire.AppendTag(body, 1, protowire.BytesType)
	body = protowire.AppendBytes(body, []byte{0xff, 0xff, 0xff})
	for _, e := range []*eventpb.Event{
		{Id: "future", Key: "k", Type: "VIEW", TsMs: time.Now().Add(time.Hour).UnixMilli()},
		{Id: "seconds", Key: "k", Type: "VIEW", TsMs: time.Now().Unix()},
	} {
		b, err := proto.Marshal(e)
		must(t, err)
		body = protowire.AppendTag(body, 1, protowire.BytesType)
		body = protowire.AppendBytes(body, b)
	}

	r := post(t, srv.URL, "application/x-protobuf", body, "")
	if r.code != http.StatusMultiStatus || r.resp.Accepted != n || r.resp.Rejected != 5 || len(r.resp.Results) != 5 {
		t.Fatalf("status %d %s, want 207 with %d accepted and 5 rejected", r.code, r.raw, n)
	}
	for j, f := range []struct{ field, code, id string }{
		{"id", "field_missing", ""}, {"type", "type", "bad-type"}, {"", "syntax", ""}, {"ts", "ts_future", "future"}, {"ts", "ts_unit", "seconds"},
	} {
		res := r.resp.Results[j]
		if res.Index != n+j || res.Status != StatusRejected || !strings.HasPrefix(res.Error, f.field) || res.Reason != f.code || res.ID != f.id {
			t.Errorf("result %d: %+v, want index %d rejected (%q, %s, id %q)", j, res, n+j, f.field, f.code, f.id)
		}
	}

	seen := map[string]bool{}
	for _, rec := range consumeAll(t, c, topics.Events, n) {
		if len(rec.Value) > 0 && rec.Value[0] == '{' {
			t.Fatalf("protobuf event came out as JSON: %s", rec.Value)
		}
		var got eventpb.Event
		must(t, proto.Unmarshal(rec.Value, &got))
		w, ok := want[got.Id]
		if !ok || seen[got.Id] {
			t.Fatalf("unexpected or repeated event %v", &got)
		}
		seen[got.Id] = true
		if got.Key != w.Key || got.Type != w.Type || got.GetValue() != w.GetValue() || got.TsMs != w.TsMs || got.Dims["country"] != w.Dims["country"] {
			t.Errorf("event came out as %v, want %v", &got, w)
		}
		if k := wantRecordKey(w.Key, w.Id); string(rec.Key) != k {
			t.Errorf("event %s: record key %q, want %q", w.Id, rec.Key, k)
		}
		if p := wantPartition(topics.Events, rec.Key, testPartitions); rec.Partition != p {
			t.Errorf("event %s: partition %d, want %d", w.Id, rec.Partition, p)
		}
	}
	dl := consumeAll(t, c, topics.DeadLetter, 5)
	for _, rec := range dl {
		if header(rec, kafka.HeaderReason) == "" || header(rec, event.HeaderReasonCode) == "" || header(rec, kafka.HeaderSource) != Source {
			t.Errorf("dead letter without reason or source: %v", rec.Headers)
		}
	}
}

// TestResentBatchAcceptedAgain: the gateway does not deduplicate; a re-sent
// batch is accepted again and every copy of an event lands in the same
// partition under the same record key, where the engine's dedup by id
// catches it.
func TestResentBatchAcceptedAgain(t *testing.T) {
	c, topics := newCluster(t)
	_, srv := newServer(t, c, topics, HotKeys(map[string]int{"hot": hotSplit}))
	var elems []string
	for i := range 200 {
		elems = append(elems, goodEvent("d", i).json())
	}
	body := jsonArray(elems)
	for try := range 2 {
		r := post(t, srv.URL, "application/json; charset=utf-8", body, "")
		if r.code != http.StatusOK || r.resp.Accepted != 200 || len(r.resp.Results) != 0 {
			t.Fatalf("send %d: status %d %s, want 200 with 200 accepted", try, r.code, r.raw)
		}
	}
	type place struct {
		key  string
		part int32
	}
	copies := map[string][]place{}
	for _, rec := range consumeAll(t, c, topics.Events, 400) {
		var v jsonValue
		must(t, json.Unmarshal(rec.Value, &v))
		copies[v.ID] = append(copies[v.ID], place{string(rec.Key), rec.Partition})
	}
	if len(copies) != 200 {
		t.Fatalf("%d distinct ids, want 200", len(copies))
	}
	for id, ps := range copies {
		if len(ps) != 2 || ps[0] != ps[1] {
			t.Errorf("event %s: copies %v, want 2 in the same place", id, ps)
		}
	}
}

// TestConcurrentPosts: many clients at once, every event out exactly once.
func TestConcurrentPosts(t *testing.T) {
	c, topics := newCluster(t)
	_, srv := newServer(t, c, topics)
	const clients, batches, size = 8, 5, 100
	var wg sync.WaitGroup
	for cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				var elems []string
				for i := range size {
					elems = append(elems, goodEvent(fmt.Sprintf("c%d-%d", cl, b), i).json())
				}
				r := post(t, srv.URL, "application/json", jsonArray(elems), "")
				if r.code != http.StatusOK || r.resp.Accepted != size {
					t.Errorf("status %d %s", r.code, r.raw)
				}
			}
		}()
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, rec := range consumeAll(t, c, topics.Events, clients*batches*size) {
		var v jsonValue
		must(t, json.Unmarshal(rec.Value, &v))
		if ids[v.ID] {
			t.Fatalf("event %s twice", v.ID)
		}
		ids[v.ID] = true
	}
}

var _ = kgo.Record{}
