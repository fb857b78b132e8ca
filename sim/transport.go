package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
)

// Transport sends one batch and says, for each item, what became of it
// (out[i] for items[i]); on each send it also sets items[i].Code and
// Acked (Item). It is called from many goroutines at once.
type Transport interface {
	Send(ctx context.Context, items []Item, out []Outcome) error
}

// Outcome is what became of one sent item.
type Outcome uint8

const (
	// Acked: the gateway or the broker acknowledged the event.
	Acked Outcome = iota
	// Rejected: the event was refused as invalid (dead-lettered).
	Rejected
	// Failed: the event was not acknowledged; re-sending it is safe.
	Failed
	// Throttled: the receiver refused the event for overload (the
	// gateway's 429) before producing anything: not acknowledged, and
	// re-sending it later is safe. The sender re-sends it as it does a
	// Failed one, and counts it apart.
	Throttled
)

// Format is the wire format of the events.
type Format int

const (
	// JSON events (a JSON array per gateway request).
	JSON Format = iota
	// Protobuf events (countlab.v1.EventBatch per gateway request).
	Protobuf
)

// ParseFormat parses "json" or "protobuf".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "json", "":
		return JSON, nil
	case "protobuf", "proto":
		return Protobuf, nil
	}
	return 0, fmt.Errorf("sim: unknown format %q (json or protobuf)", s)
}

// Gateway sends batches to an ingest gateway's POST /v1/events.
type Gateway struct {
	URL    string // base, http://127.0.0.1:8080
	Token  string
	Format Format
	Client *http.Client

	bodies bodyPool
}

// NewGateway is a transport to the gateway at baseURL over up to conns
// connections.
func NewGateway(baseURL, token string, format Format, conns int) *Gateway {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns
	tr.MaxIdleConnsPerHost = conns
	tr.MaxConnsPerHost = conns
	return &Gateway{URL: baseURL, Token: token, Format: format, Client: &http.Client{Timeout: 60 * time.Second, Transport: tr}}
}

// gatewayResponse is the part of the gateway's answer the sender reads.
type gatewayResponse struct {
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	Failed   int `json:"failed"`
	Results  []struct {
		Index  int    `json:"index"`
		Status string `json:"status"`
		// Reason is the contract's reason code of a rejected event.
		Reason string `json:"reason"`
	} `json:"results"`
	Error string `json:"error"`
}

// Send implements Transport.
func (g *Gateway) Send(ctx context.Context, items []Item, out []Outcome) error {
	// The body's bytes are reused once the HTTP client has closed it
	// (bodyPool): it may still be writing them when an early answer
	// arrives.
	body := g.bodies.get(160*len(items) + 2)
	ctype := "application/json"
	if g.Format == Protobuf {
		ctype = "application/x-protobuf"
		for i := range items {
			body = appendProtoItem(body, &items[i])
		}
	} else {
		body = append(body, '[')
		for i := range items {
			if i > 0 {
				body = append(body, ',')
			}
			if raw := items[i].Raw; raw != nil {
				body = append(body, raw...)
			} else {
				body = event.AppendJSON(body, &items[i].Event)
			}
		}
		body = append(body, ']')
	}
	for i := range out {
		out[i] = Failed
		items[i].Code, items[i].Acked = "", false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/v1/events", g.bodies.body(body))
	if err != nil {
		return err
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", ctype)
	if g.Token != "" {
		req.Header.Set("Authorization", "Bearer "+g.Token)
	}
	resp, err := g.Client.Do(req)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusMultiStatus, http.StatusBadRequest, http.StatusServiceUnavailable:
	case http.StatusTooManyRequests:
		for i := range out {
			out[i] = Throttled // nothing produced: re-send later
		}
		return nil
	default:
		return fmt.Errorf("gateway: %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	var r gatewayResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("gateway: %d: undecodable answer: %v", resp.StatusCode, err)
	}
	if resp.StatusCode == http.StatusBadRequest && r.Rejected == 0 {
		return fmt.Errorf("gateway: 400: %s", r.Error)
	}
	for i := range out {
		out[i] = Acked
	}
	for _, res := range r.Results {
		if res.Index < 0 || res.Index >= len(out) {
			return errors.New("gateway: answer names event " + strconv.Itoa(res.Index) + " outside the batch")
		}
		if res.Status == "rejected" {
			out[res.Index] = Rejected
			items[res.Index].Code = res.Reason
		} else {
			out[res.Index] = Failed
		}
	}
	return nil
}

// appendProtoItem appends it as one event of an EventBatch.
func appendProtoItem(dst []byte, it *Item) []byte {
	if it.RawProto != nil {
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		return protowire.AppendBytes(dst, it.RawProto)
	}
	one := [1]event.Event{it.Event}
	return event.AppendProtoBatch(dst, one[:])
}

// Kafka produces events straight to the events topic, one record per
// event with the counted key as the record key.
type Kafka struct {
	Client *kgo.Client
	Topic  string
	Format Format
	// HotKeys are the engine's split keys (aggregate.HotKeys): a record's
	// key is its canonical one (kafka.AppendRecordKey), so that an event of
	// a split key lands in the partition the engine counts it in. Nil: the
	// counted key.
	HotKeys map[string]int
}

// NewKafka is a producer to topics.Events on conn (idempotent, acks=all).
func NewKafka(conn kafka.Conn, topic string, format Format) (*Kafka, error) {
	opts, err := conn.Opts()
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(1_000_000), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return &Kafka{Client: cl, Topic: topic, Format: format}, nil
}

// Close closes the producer.
func (k *Kafka) Close() { k.Client.Close() }

// Send implements Transport. Malformed items are produced too: the engine
// dead-letters them, and they count as Rejected once acknowledged (with
// Item.Acked set).
func (k *Kafka) Send(ctx context.Context, items []Item, out []Outcome) error {
	var wg sync.WaitGroup
	wg.Add(len(items))
	for i := range items {
		it := &items[i]
		it.Code, it.Acked = "", false
		var v []byte
		switch {
		case it.Raw != nil && k.Format == JSON:
			v = it.Raw
		case it.RawProto != nil && k.Format == Protobuf:
			v = it.RawProto
		case k.Format == Protobuf:
			v = event.AppendProto(nil, &it.Event)
		default:
			v = event.AppendJSON(nil, &it.Event)
		}
		i := i
		k.Client.Produce(ctx, &kgo.Record{Key: kafka.AppendRecordKey(nil, k.HotKeys, it.Event.Key, it.Event.ID), Value: v}, func(_ *kgo.Record, err error) {
			switch {
			case err != nil:
				out[i] = Failed
			case it.Kind == KindMalformed:
				out[i] = Rejected
				it.Acked = true
			default:
				out[i] = Acked
			}
			wg.Done()
		})
	}
	wg.Wait()
	return nil
}
