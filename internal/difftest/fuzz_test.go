package difftest

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/gateway"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim/oracle"
)

// stack is the in-process pipeline a fuzz run reuses across iterations:
// kfake, the gateway (httptest), one engine worker and the query service
// (reading the aggregates topic; InfluxDB is a process, too slow for
// fuzzing: the run tests check the store against the oracle).
type stack struct {
	k      *cluster
	gwURL  string
	query  *client.Client
	truth  *oracle.Oracle // what the gateway answered, event by event
	events int
	// rejected counts the gateway's per-event rejections by reason
	// code: each must be in the dead-letter topic with that code in its
	// countlab-reason-code header.
	rejected map[string]int64
}

func startStack(t testing.TB) *stack {
	t.Helper()
	const parts = 2
	k := newCluster(t, parts)
	v, o := newPair(t, parts)
	gw, err := gateway.New(gateway.Kafka(k.conn), gateway.Topics(k.topics), gateway.Validator(v), gateway.Logger(testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	gsrv := httptest.NewServer(gw)
	t.Cleanup(func() { gsrv.Close(); gw.Close() })
	k.startWorker(t, "difftest-fuzz")
	qs, err := query.New(query.Kafka(k.conn), query.Topic(k.topics.Aggregates), query.Windows(testWindows...),
		query.Retention(8*24*time.Hour), query.Logger(testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	qsrv := httptest.NewServer(qs)
	t.Cleanup(func() { qsrv.Close(); qs.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := qs.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	qc, err := client.New(qsrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &stack{k: k, gwURL: gsrv.URL, query: qc, truth: o, rejected: map[string]int64{}}
}

// gatewayAnswer is the part of the gateway's answer compared.
type gatewayAnswer struct {
	Results []struct {
		Index  int    `json:"index"`
		Status string `json:"status"`
		Reason string `json:"reason"`
		Error  string `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

// post sends one event, as a batch of one, and checks the gateway's
// verdict against the oracle's.
func (s *stack) post(t testing.TB, ev []byte) {
	t.Helper()
	body := append(append([]byte("["), ev...), ']')
	ref := time.Now().UnixMilli()
	resp, err := http.Post(s.gwURL+"/v1/events", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a gatewayAnswer
	_ = json.NewDecoder(resp.Body).Decode(&a)
	want := s.truth.Expect(oracle.Sent{Raw: ev, Ref: ref})
	got, acked := "", resp.StatusCode == http.StatusOK && len(a.Results) == 0
	switch {
	case acked:
	case len(a.Results) == 1 && a.Results[0].Status == "rejected":
		got = a.Results[0].Reason
		if got == "" {
			got = "(rejected, no reason code)"
		}
		s.rejected[got]++
	case resp.StatusCode == http.StatusBadRequest && len(a.Results) == 0:
		got = oracle.CodeSyntax // the body itself is not a batch
	default:
		t.Fatalf("gateway answered %d %+v to %q", resp.StatusCode, a, body)
	}
	s.truth.Add(oracle.Sent{Raw: ev, Ref: ref, Acked: acked, Code: got})
	s.events++
	if acked != (want.Code == "") || !acked && got != want.Code {
		t.Errorf("gateway on %q: acked=%v code %q, oracle %q", ev, acked, got, want.Code)
	}
}

// check waits for the engine and compares every window (engine output,
// and the query service's answers) with the oracle of the events topic.
func (s *stack) check(t testing.TB) {
	t.Helper()
	s.k.waitCommitted(t, 30*time.Second)
	o := compareWithOracle(t, s.k)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	acc, err := reports.Check(ctx, o, s.query, reports.CheckConfig{Drain: 10 * time.Second, Parallel: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !acc.Query.Exact {
		t.Errorf("query service vs oracle: %d of %d windows differ: %v", acc.Query.MismatchedWindows, acc.Query.WindowsChecked, acc.Query.WorstWindows)
	}
	if st := s.truth.Stats(); st.Mismatches > 0 {
		t.Errorf("the gateway disagreed with the contract on %d events: %+v", st.Mismatches, s.truth.Mismatches())
	}
	// The gateway's dead-letters (no origin header) carry the code it
	// answered.
	dl := map[string]int64{}
	for _, r := range s.k.read(t, s.k.topics.DeadLetter) {
		if kafka.Header(r, kafka.HeaderOrigin) == "" {
			code := kafka.Header(r, event.HeaderReasonCode)
			if code == "" {
				code = "(none)"
			}
			dl[code]++
		}
	}
	if !maps.Equal(dl, s.rejected) {
		t.Errorf("gateway dead-letters by countlab-reason-code %v, gateway rejections by reason %v", dl, s.rejected)
	}
}

// splitEvents cuts fuzz data into at most 16 events at 0x1E bytes.
func splitEvents(data []byte) [][]byte {
	parts := bytes.Split(data, []byte{0x1e})
	return parts[:min(len(parts), 16)]
}

// FuzzPipeline feeds events (0x1E-separated) through the real gateway,
// kfake, an engine worker and the query service, reusing one stack, and
// compares every window and every verdict with the oracle. The seeds are
// made at start-up around the current time (a fixed event time would age
// past the 7-day bound); crashers land in testdata/fuzz/FuzzPipeline.
// Run it with -fuzzminimizetime 1x: the pipeline's goroutines make
// coverage vary from run to run, so nearly every input looks new and the
// default minimization (60 s per input at ~150 ms an execution) leaves
// no time to fuzz.
func FuzzPipeline(f *testing.F) {
	g := newGen(uint64(time.Now().UnixNano()), time.Now().UnixMilli())
	g.clean = true
	for range 8 {
		var seed []byte
		for i := range 6 {
			if i > 0 {
				seed = append(seed, 0x1e)
			}
			seed = append(seed, g.jsonEvent()...)
		}
		f.Add(seed)
	}
	f.Add([]byte(`{"id":"x","key":"k","type":"VIEW","ts":1}` + "\x1e" + `[]` + "\x1e" + `{"id":"x","key":"k","type":"VIEW","ts":"bad"}`))
	s := startStack(f) // once per process; f.Fuzz's workers share it
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, ev := range splitEvents(data) {
			if bytes.IndexByte(ev, '{') < 0 || len(ev) > 4096 {
				continue // a batch is an array of objects; keep requests small
			}
			s.post(t, ev)
		}
		s.check(t)
	})
}
