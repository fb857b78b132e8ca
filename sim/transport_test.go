package sim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
)

func someItems(t *testing.T, n int) []Item { return genItems(t, testConfig(), n, time.Millisecond) }

// genItems is the first n items of cfg's generator, step apart.
func genItems(t testing.TB, cfg Config, n int, step time.Duration) []Item {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	items := make([]Item, n)
	for i := range items {
		items[i] = g.Next(time.Duration(i) * step)
	}
	return items
}

// TestKafkaTransport produces to a real (in-process) Kafka-protocol
// broker and reads every acknowledged record back, each with its
// canonical record key in its canonical partition: in protobuf with the
// first item's key split 3 ways (Kafka.HotKeys).
func TestKafkaTransport(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "events"), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, format := range []Format{JSON, Protobuf} {
		k, err := NewKafka(kafka.Conn{Brokers: c.ListenAddrs()}, "events", format)
		if err != nil {
			t.Fatal(err)
		}
		items := someItems(t, 500)
		if format == Protobuf {
			k.HotKeys = map[string]int{items[0].Event.Key: 3}
		}
		out := make([]Outcome, len(items))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := k.Send(ctx, items, out); err != nil {
			t.Fatal(err)
		}
		k.Close()
		var acked, rejected int
		for i, o := range out {
			switch {
			case o == Acked && items[i].Kind != KindMalformed:
				acked++
			case o == Rejected && items[i].Kind == KindMalformed:
				rejected++
			default:
				t.Fatalf("item %d (%v): outcome %v", i, items[i].Kind, o)
			}
		}
		cl, _ := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		seen, split := 0, map[string]bool{}
		var e event.Event
		for seen < acked+rejected && ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				seen++
				if _, err := event.Decode(r.Value, &e); err == nil && e.Key != "" {
					want := kafka.AppendRecordKey(nil, k.HotKeys, e.Key, e.ID)
					if string(r.Key) != string(want) || r.Partition != kafka.Partition(want, 4) {
						t.Errorf("record key %q in partition %d, want %q in %d", r.Key, r.Partition, want, kafka.Partition(want, 4))
					}
					if e.Key != string(want) {
						split[string(want)] = true
					}
				}
			})
		}
		if format == Protobuf && len(split) != 3 {
			t.Errorf("hot key %q: record keys %v, want 3", items[0].Event.Key, split)
		}
		cl.Close()
		cancel()
		if seen < acked+rejected {
			t.Fatalf("format %v: read %d records, want %d", format, seen, acked+rejected)
		}
		// A fresh cluster for the next format.
		c.Close()
		c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "events"), kfake.Ports(0))
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestGatewayTransport checks the outcome mapping of the gateway's
// answers: per-event results, 429 (all throttled) and a bad answer.
func TestGatewayTransport(t *testing.T) {
	var status int
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/events" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "bad request", 400)
			return
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	defer srv.Close()
	g := NewGateway(srv.URL, "tok", JSON, 2)
	items := someItems(t, 3)
	out := make([]Outcome, 3)
	status, body = 207, `{"accepted":1,"rejected":1,"failed":1,"results":[{"index":0,"status":"rejected","reason":"dims","error":"dims.c: bad"},{"index":2,"status":"failed"}]}`
	items[1].Code = "stale" // from an earlier attempt
	if err := g.Send(context.Background(), items, out); err != nil {
		t.Fatal(err)
	}
	if out[0] != Rejected || out[1] != Acked || out[2] != Failed {
		t.Fatalf("outcomes %v", out)
	}
	if items[0].Code != "dims" || items[1].Code != "" || items[2].Code != "" {
		t.Fatalf("codes %q %q %q, want the rejected event's reason only", items[0].Code, items[1].Code, items[2].Code)
	}
	if s := OracleSent(&items[0], JSON, false, 5, out[0]); s.Acked || s.Code != "dims" || s.Ref != 5 {
		t.Fatalf("truth of a rejected event: %+v", s)
	}
	status, body = 429, `{"error":"busy"}`
	if err := g.Send(context.Background(), items, out); err != nil || out[0] != Throttled || out[2] != Throttled {
		t.Fatalf("429: %v %v", err, out)
	}
	status, body = 500, `oops`
	if err := g.Send(context.Background(), items, out); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("500: %v", err)
	}
}
