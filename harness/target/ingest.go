package target

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/sim"
)

// secret reads a credential from the environment variable env or the file
// (relative to dir); "" when neither is set. Errors name the field, never
// the value.
func secret(env, file, dir, field string) (string, error) {
	switch {
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("%s: the environment variable %s is not set (export it, or use the _file form)", field, env)
		}
		return v, nil
	case file != "":
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s: %w", field, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", nil
}

// authHeader is the Authorization header of a, "" without credentials.
func authHeader(a Auth, dir, field string) (string, error) {
	if a.BasicUser != "" {
		pw, err := secret(a.BasicPasswordEnv, a.BasicPasswordFile, dir, field)
		if err != nil {
			return "", err
		}
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(a.BasicUser+":"+pw)), nil
	}
	tok, err := secret(a.BearerEnv, a.BearerFile, dir, field)
	if err != nil || tok == "" {
		return "", err
	}
	return "Bearer " + tok, nil
}

// headerTransport adds fixed headers (and the credential) to every
// request.
type headerTransport struct {
	base    http.RoundTripper
	headers http.Header
}

func (t *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.headers {
		r.Header[k] = v
	}
	return t.base.RoundTrip(r)
}

// httpClient is a client over conns connections that sends headers and
// the credential of a with every request.
func httpClient(headers map[string]string, a Auth, dir, field string, conns int, timeout time.Duration) (*http.Client, error) {
	h := http.Header{}
	for k, v := range headers {
		h.Set(k, v)
	}
	auth, err := authHeader(a, dir, field)
	if err != nil {
		return nil, err
	}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = conns, conns, conns
	return &http.Client{Timeout: timeout, Transport: &headerTransport{base: tr, headers: h}}, nil
}

// newHTTPIngest is the sim.Transport of an HTTP ingest.
func newHTTPIngest(h *HTTPIngest, dir string, conns int) (sim.Transport, error) {
	cl, err := httpClient(h.Headers, h.Auth, dir, "target.ingest.http.auth", conns, h.Timeout)
	if err != nil {
		return nil, err
	}
	if h.Response == "countlab" {
		format := sim.JSON
		if h.Format == "protobuf" {
			format = sim.Protobuf
		}
		return &sim.Gateway{URL: strings.TrimSuffix(h.URL, "/v1/events"), Format: format, Client: cl}, nil
	}
	return &statusIngest{url: h.URL, format: h.Format, client: cl}, nil
}

// statusIngest posts a batch and reads only the answer's status: 2xx
// acknowledges the batch, 429 throttles it, anything else fails it.
type statusIngest struct {
	url, format string
	client      *http.Client
}

func (s *statusIngest) Send(ctx context.Context, items []sim.Item, out []sim.Outcome) error {
	var body []byte
	ctype := "application/json"
	switch s.format {
	case "protobuf":
		ctype = "application/x-protobuf"
		for i := range items {
			one := [1]event.Event{items[i].Event}
			body = event.AppendProtoBatch(body, one[:])
		}
	case "ndjson":
		ctype = "application/x-ndjson"
		for i := range items {
			body = append(event.AppendJSON(body, &items[i].Event), '\n')
		}
	default:
		body = append(body, '[')
		for i := range items {
			if i > 0 {
				body = append(body, ',')
			}
			body = event.AppendJSON(body, &items[i].Event)
		}
		body = append(body, ']')
	}
	for i := range out {
		out[i] = sim.Failed
		items[i].Code, items[i].Acked = "", false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		for i := range out {
			out[i] = sim.Acked
		}
		return nil
	case resp.StatusCode == http.StatusTooManyRequests:
		for i := range out {
			out[i] = sim.Throttled
		}
		return nil
	}
	return fmt.Errorf("ingest %s: %d: %s", s.url, resp.StatusCode, bytes.TrimSpace(msg))
}

// kafkaIngest produces one record per event (idempotent, acks=all).
type kafkaIngest struct {
	cl       *kgo.Client
	key      string
	protobuf bool
}

func newKafkaIngest(k *KafkaIngest, extra []kgo.Opt) (*kafkaIngest, error) {
	var part kgo.Partitioner
	switch k.Partitioner {
	case "round_robin":
		part = kgo.RoundRobinPartitioner()
	case "sticky":
		part = kgo.StickyPartitioner()
	default: // murmur2: Kafka's default hash of the record key
		part = kgo.StickyKeyPartitioner(nil)
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(k.Brokers...), kgo.DefaultProduceTopic(k.Topic),
		kgo.ProducerLinger(5 * time.Millisecond), kgo.MaxBufferedRecords(1_000_000), kgo.RecordPartitioner(part)}, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("target.ingest.kafka: %w", err)
	}
	return &kafkaIngest{cl: cl, key: k.Key, protobuf: k.Encoding == "protobuf"}, nil
}

func (k *kafkaIngest) recordKey(e *event.Event) []byte {
	switch k.key {
	case "id":
		return []byte(e.ID)
	case "key_id":
		return []byte(e.Key + "/" + e.ID)
	case "none":
		return nil
	}
	return []byte(e.Key)
}

// Send implements sim.Transport.
func (k *kafkaIngest) Send(ctx context.Context, items []sim.Item, out []sim.Outcome) error {
	var wg sync.WaitGroup
	wg.Add(len(items))
	for i := range items {
		it := &items[i]
		it.Code, it.Acked = "", false
		var v []byte
		if k.protobuf {
			v = event.AppendProto(nil, &it.Event)
		} else {
			v = event.AppendJSON(nil, &it.Event)
		}
		k.cl.Produce(ctx, &kgo.Record{Key: k.recordKey(&it.Event), Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				out[i] = sim.Failed
			} else {
				out[i] = sim.Acked
			}
			wg.Done()
		})
	}
	wg.Wait()
	return nil
}
