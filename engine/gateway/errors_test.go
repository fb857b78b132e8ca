package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/countlab/countlab/engine/event"
)

// events returns a JSON array of n good events with ids prefix-i.
func events(prefix string, n int) []byte {
	var elems []string
	for i := range n {
		elems = append(elems, goodEvent(prefix, i).json())
	}
	return jsonArray(elems)
}

// TestBadInput checks every bad-input answer: its status, its JSON error
// body and its headers.
func TestBadInput(t *testing.T) {
	c, topics := newCluster(t)
	const token = "s3cret-token"
	_, srv := newServer(t, c, topics, Token(token), MaxBodyBytes(4000), MaxBatch(10), MaxInFlight(100))

	type check struct {
		code   int
		errHas string            // substring of the error text
		header map[string]string // headers that must be set (value "" = any)
	}
	f := func(name string, req *http.Request, want check) {
		t.Helper()
		r := do(t, req)
		if r.code != want.code {
			t.Errorf("%s: status %d, want %d: %s", name, r.code, want.code, r.raw)
			return
		}
		var body map[string]any
		if err := json.Unmarshal(r.raw, &body); err != nil {
			t.Errorf("%s: body not a JSON object: %s", name, r.raw)
			return
		}
		msg, _ := body["error"].(string)
		if want.code >= 400 && msg == "" {
			t.Errorf("%s: no \"error\" in %s", name, r.raw)
		}
		if !strings.Contains(msg, want.errHas) {
			t.Errorf("%s: error %q, want it to contain %q", name, msg, want.errHas)
		}
		for k, v := range want.header {
			if got := r.header.Get(k); got == "" || v != "" && got != v {
				t.Errorf("%s: header %s = %q, want %q", name, k, got, v)
			}
		}
	}
	req := func(method, path, contentType, tok string, body io.Reader) *http.Request {
		t.Helper()
		r, err := http.NewRequest(method, srv.URL+path, body)
		must(t, err)
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		return r
	}
	good := func(n int) io.Reader { return bytes.NewReader(events("bad-input", n)) }
	const js = "application/json"

	f("ok", req("POST", PathEvents, js, token, good(3)), check{code: 200})
	f("empty array", req("POST", PathEvents, js, token, strings.NewReader("[]")), check{code: 200})
	f("no token", req("POST", PathEvents, js, "", good(1)),
		check{401, "missing bearer token", map[string]string{"WWW-Authenticate": ""}})
	f("wrong token", req("POST", PathEvents, js, "s3cret-tokeN", good(1)),
		check{401, "invalid bearer token", map[string]string{"WWW-Authenticate": ""}})
	f("token prefix only", req("POST", PathEvents, js, "s3cret", good(1)), check{code: 401, errHas: "invalid"})
	f("GET events", req("GET", PathEvents, "", token, nil), check{405, "not allowed", map[string]string{"Allow": "POST"}})
	f("PUT events", req("PUT", PathEvents, js, token, good(1)), check{405, "not allowed", map[string]string{"Allow": "POST"}})
	f("POST healthz", req("POST", PathHealth, js, "", good(1)), check{405, "not allowed", map[string]string{"Allow": "GET, HEAD"}})
	f("unknown path", req("GET", "/v2/nothing", "", "", nil), check{code: 404, errHas: "no such path"})
	f("too large", req("POST", PathEvents, js, token, bytes.NewReader(make([]byte, 5000))), check{code: 413, errHas: "4000 bytes"})
	// Without Content-Length (chunked), the limit is met while reading.
	f("too large chunked", req("POST", PathEvents, js, token, io.MultiReader(strings.NewReader("["), bytes.NewReader(bytes.Repeat([]byte(" "), 5000)))),
		check{code: 413, errHas: "4000 bytes"})
	f("batch too long", req("POST", PathEvents, js, token, good(11)), check{code: 400, errHas: "limit of 10"})
	f("not an array", req("POST", PathEvents, js, token, strings.NewReader(goodEvent("x", 1).json())), check{code: 400, errHas: "not a JSON array"})
	f("not JSON", req("POST", PathEvents, js, token, strings.NewReader("hello")), check{code: 400, errHas: "not a JSON array"})
	f("truncated array", req("POST", PathEvents, js, token, strings.NewReader("["+goodEvent("x", 1).json()+",")), check{code: 400, errHas: "not a JSON array"})
	f("element not delimited", req("POST", PathEvents, js, token, strings.NewReader(`[{"id":"x",]`)), check{code: 400, errHas: "not a JSON array"})
	// An element that is not JSON but that the brackets delimit is an
	// invalid event like any other: refused (syntax), dead-lettered.
	f("element not JSON", req("POST", PathEvents, js, token, strings.NewReader(`[{"id":"x",}]`)), check{code: 400, errHas: "all 1 events are invalid"})
	nan := "[" + goodEvent("nan", 1).json() + `,{"id":"n","key":"k","type":"VIEW","value":NaN,"ts":1}]`
	f("a NaN literal among good events", req("POST", PathEvents, js, token, strings.NewReader(nan)), check{code: 207})
	f("bad protobuf", req("POST", PathEvents, "application/x-protobuf", token, strings.NewReader("\xff\xff\xff")), check{code: 400, errHas: "not a protobuf EventBatch"})
	f("all invalid", req("POST", PathEvents, js, token, strings.NewReader(`[{"id":"x"},"y"]`)), check{code: 400, errHas: "all 2 events are invalid"})
	f("text/plain", req("POST", PathEvents, "text/plain", token, good(1)),
		check{415, "unsupported Content-Type", map[string]string{"Accept-Post": ""}})
	f("no content type", req("POST", PathEvents, "", token, good(1)), check{code: 415, errHas: "unsupported Content-Type"})

	// The all-invalid answer still lists every event.
	r := post(t, srv.URL, js, []byte(`[{"id":"x"},"y"]`), token)
	if r.resp.Rejected != 2 || len(r.resp.Results) != 2 || r.resp.Results[0].ID != "x" {
		t.Errorf("all invalid: %s", r.raw)
	}
	// Only the 3 events of "ok" and the good one of the NaN batch (and none
	// of the rejected requests), and the dead letters of "element not
	// JSON", of the NaN batch's bad event and of the two "all invalid"
	// requests (1 + 1 + 4) were produced.
	consumeAll(t, c, topics.Events, 4)
	consumeAll(t, c, topics.DeadLetter, 6)
}

// holdProduce makes the cluster hold the first produce request until
// release is closed; held is closed when it arrives.
func holdProduce(c *kfake.Cluster) (held chan struct{}, release chan struct{}) {
	held, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		first := false
		once.Do(func() { first = true })
		if first {
			close(held)
			c.SleepControl(func() { <-release })
		}
		return nil, nil, false // then handle it normally
	})
	return held, release
}

// TestBackpressure429: while a batch holds the in-flight limit, another
// batch is answered 429 and nothing of it is produced.
func TestBackpressure429(t *testing.T) {
	c, topics := newCluster(t)
	g, srv := newServer(t, c, topics, MaxBatch(5), MaxInFlight(5))
	held, release := holdProduce(c)

	first := make(chan reply, 1)
	go func() { first <- post(t, srv.URL, "application/json", events("first", 5), "") }()
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("produce request never arrived")
	}
	if n := g.adm.inFlight(); n != 5 {
		t.Fatalf("in flight %d, want 5", n)
	}
	r := post(t, srv.URL, "application/json", events("second", 1), "")
	if r.code != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" || !strings.Contains(r.resp.Error, "limit 5") {
		t.Fatalf("second batch: status %d, Retry-After %q: %s; want 429 with Retry-After 1", r.code, r.header.Get("Retry-After"), r.raw)
	}
	// A protobuf batch is admitted or refused before it is decoded; a
	// malformed one, too many events or none are answered as before.
	protoOf := func(prefix string, n int) []byte {
		var evs []event.Event
		for i := range n {
			e := goodEvent(prefix, i)
			evs = append(evs, event.Event{ID: e.id, Key: e.key, Type: e.typ, TS: e.ts, TSNumber: true, Value: e.value})
		}
		return event.AppendProtoBatch(nil, evs)
	}
	for _, c := range []struct {
		name string
		body []byte
		code int
		has  string
	}{
		{"protobuf, fits not", protoOf("second", 1), http.StatusTooManyRequests, "batch of 1 does not fit"},
		{"protobuf, malformed", append(protoOf("second", 1), 0x0a, 0x7f), http.StatusBadRequest, "truncated event"},
		{"protobuf, over max batch", protoOf("second", 6), http.StatusBadRequest, "more than the limit of 5"},
		{"protobuf, empty", nil, http.StatusOK, ""},
	} {
		r := post(t, srv.URL, "application/x-protobuf", c.body, "")
		if r.code != c.code || !strings.Contains(r.resp.Error, c.has) {
			t.Fatalf("%s: status %d %s, want %d with %q", c.name, r.code, r.raw, c.code, c.has)
		}
	}
	if n := g.adm.inFlight(); n != 5 {
		t.Fatalf("in flight %d after the refused batches, want the first batch's 5", n)
	}
	close(release)
	if r := <-first; r.code != http.StatusOK || r.resp.Accepted != 5 {
		t.Fatalf("first batch: status %d %s, want 200", r.code, r.raw)
	}
	if n := g.adm.inFlight(); n != 0 {
		t.Fatalf("in flight %d after the answer, want 0", n)
	}
	for _, rec := range consumeAll(t, c, topics.Events, 5) {
		if bytes.Contains(rec.Value, []byte("second")) {
			t.Fatalf("an event of the refused batch was produced: %s", rec.Value)
		}
	}
	// Now it fits.
	if r := post(t, srv.URL, "application/json", events("second", 1), ""); r.code != http.StatusOK {
		t.Fatalf("retry: status %d %s", r.code, r.raw)
	}
	if r := post(t, srv.URL, "application/x-protobuf", protoOf("third", 5), ""); r.code != http.StatusOK || r.resp.Accepted != 5 {
		t.Fatalf("protobuf retry: status %d %s", r.code, r.raw)
	}
	if n := g.adm.inFlight(); n != 0 {
		t.Fatalf("in flight %d after the protobuf batch's answer, want 0", n)
	}
}

// TestKafkaFailure503: when Kafka does not acknowledge, the answer is 503
// with Retry-After and the failed events listed; re-sending after Kafka
// recovers is accepted.
func TestKafkaFailure503(t *testing.T) {
	c, topics := newCluster(t)
	_, srv := newServer(t, c, topics, ProduceTimeout(1500*time.Millisecond))
	const n = 40
	body := events("f", n)

	// Fail partition 0 of the events topic only: the events in it fail,
	// the others are accepted.
	h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topics.Events, Partitions: []int32{0}, Err: kerr.NotLeaderForPartition, Count: -1})
	start := time.Now()
	r := post(t, srv.URL, "application/json", body, "")
	h.Remove()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("503 answered after %s, want about the produce timeout (1.5s)", d)
	}
	if r.code != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || r.resp.Error == "" {
		t.Fatalf("status %d, Retry-After %q: %s; want 503 with Retry-After", r.code, r.header.Get("Retry-After"), r.raw)
	}
	wantFailed := 0
	failed := map[int]bool{}
	for _, res := range r.resp.Results {
		failed[res.Index] = true
		if res.Status != StatusFailed {
			t.Errorf("result %+v, want failed", res)
		}
	}
	for i := range n {
		e := goodEvent("f", i)
		inP0 := wantPartition(topics.Events, []byte(e.key), testPartitions) == 0
		if inP0 {
			wantFailed++
		}
		if inP0 != failed[i] {
			t.Errorf("event %d (partition 0: %v): failed %v", i, inP0, failed[i])
		}
	}
	if wantFailed == 0 || wantFailed == n {
		t.Fatalf("test setup: %d of %d events in partition 0", wantFailed, n)
	}
	if r.resp.Failed != wantFailed || r.resp.Accepted != n-wantFailed {
		t.Fatalf("%+v, want %d failed and %d accepted", r.resp, wantFailed, n-wantFailed)
	}

	// Every record failing.
	h = c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotLeaderForPartition, Count: -1})
	r = post(t, srv.URL, "application/json", events("g", 5), "")
	h.Remove()
	if r.code != http.StatusServiceUnavailable || r.resp.Failed != 5 || r.resp.Accepted != 0 {
		t.Fatalf("all failing: status %d %s, want 503 with 5 failed", r.code, r.raw)
	}

	// Kafka is back: the whole first batch is re-sent, as a client would,
	// until it is accepted (the producer needs a metadata refresh first).
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := post(t, srv.URL, "application/json", body, "")
		if r.code == http.StatusOK && r.resp.Accepted == n {
			break
		}
		if r.code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("re-send: status %d %s, want 503 until 200", r.code, r.raw)
		}
		s, _ := strconv.Atoi(r.header.Get("Retry-After"))
		time.Sleep(time.Duration(s) * time.Second)
	}
	// Every event of the batch is in the topic, some more than once (the
	// engine dedups by id); nothing else but events of the "g" batch that
	// Kafka took after their answer timed out.
	got := map[string]int{}
	for _, rec := range consumeAll(t, c, topics.Events, -1) {
		var v jsonValue
		must(t, json.Unmarshal(rec.Value, &v))
		got[v.ID]++
	}
	for i := range n {
		if id := goodEvent("f", i).id; got[id] == 0 {
			t.Errorf("event %s lost", id)
		}
	}
	for id := range got {
		if !strings.HasPrefix(id, "f-") && !strings.HasPrefix(id, "g-") {
			t.Errorf("unexpected event %s", id)
		}
	}
}

// TestHealthAndMetrics: /healthz follows the cluster, /metrics counts.
func TestHealthAndMetrics(t *testing.T) {
	c, topics := newCluster(t)
	_, srv := newServer(t, c, topics)
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		must(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		must(t, err)
		return res.StatusCode, string(b)
	}
	if code, body := get(PathHealth); code != 200 {
		t.Fatalf("healthz: %d %s", code, body)
	}
	r := post(t, srv.URL, "application/json", []byte("["+goodEvent("m", 1).json()+`,"bad"]`), "")
	if r.code != http.StatusMultiStatus {
		t.Fatalf("status %d %s", r.code, r.raw)
	}
	code, body := get(PathMetrics)
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for _, want := range []string{
		`countlab_gateway_events_total{result="accepted"} 1`,
		`countlab_gateway_events_total{result="rejected"} 1`,
		`countlab_gateway_events_total{result="failed"} 0`,
		`countlab_gateway_requests_total{code="207"} 1`,
		`countlab_gateway_requests_total{code="200"} 1`, // the healthz
		`countlab_gateway_batch_events_count 1`,
		`countlab_gateway_produce_ack_seconds_count 1`,
		`countlab_gateway_events_in_flight 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}

	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		code, body := get(PathHealth)
		if code == http.StatusServiceUnavailable && strings.Contains(body, `"error"`) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("healthz with the cluster down: %d %s, want 503", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOptions checks New's validation.
func TestOptions(t *testing.T) {
	f := func(name string, wantErr string, opts ...Opt) {
		t.Helper()
		g, err := New(opts...)
		if err == nil {
			g.Close()
		}
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("%s: error %v, want %q", name, err, wantErr)
		}
	}
	k := Kafka(kafkaConn("127.0.0.1:1"))
	f("ok", "", k)
	f("no brokers", "no Kafka brokers")
	f("in flight below batch", "MaxInFlight", k, MaxBatch(100), MaxInFlight(10))
	f("bad body limit", "MaxBodyBytes", k, MaxBodyBytes(0))
	f("bad hot key", "hot key", k, HotKeys(map[string]int{"a#b": 2}))
	f("zero hot split", "hot key", k, HotKeys(map[string]int{"a": 0}))
	f("bad timeout", "ProduceTimeout", k, ProduceTimeout(0))
	f("bad body timeout", "BodyReadTimeout", k, BodyReadTimeout(-time.Second))
}
