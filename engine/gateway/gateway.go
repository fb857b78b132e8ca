// Package gateway is countlab's ingest gateway: an HTTP batch API that
// validates events and produces them to Kafka.
//
// POST /v1/events takes a JSON array of events (Content-Type
// application/json) or a protobuf countlab.v1.EventBatch
// (application/x-protobuf, engine/event/event.proto), optionally with
// Content-Encoding gzip or zstd (the body limit holds for the decoded size;
// other encodings are answered 415, a body slower than the body read
// timeout 408).
// Every event is validated (event.Validator.ValidateAt, the reference time
// being the request's receive time, which is also the timestamp of every
// record written for the request); good events are produced to the events topic,
// keyed by counted key (split "KEY#i" for configured hot keys) with
// Kafka's default murmur2 partitioner, and invalid ones to the dead-letter
// topic with their reason (headers countlab-reason and
// countlab-reason-code). The answer is sent only after Kafka acknowledged
// every record (acks=all, idempotent producer), so an accepted event is
// durable.
//
// A record's value is the event re-encoded in the format it came in
// (event.AppendJSON or event.AppendProto), not the bytes received: the
// engine then reads exactly what the gateway validated, in canonical form
// (the default value of 1 spelled out, ts as RFC 3339, dimensions sorted),
// whatever the spelling the client used; re-encoding costs less than
// decoding. Dead-letter records keep the bytes received, unchanged.
//
// A batch is admitted whole or not at all against an in-flight limit (429
// when full) and, with RateLimit, an events-a-second token bucket (429 with
// the Retry-After until it fits). The gateway does not deduplicate: a re-sent event is produced
// again, under the same record key and so to the same partition, and the
// engine counts it once by its id.
//
// GET /healthz answers 200 when a Kafka broker is reachable, GET /metrics
// serves Prometheus metrics from the gateway's own registry.
//
// Every error answer is JSON {"error":"..."} with Content-Type
// application/json.
package gateway

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Paths served.
const (
	PathEvents  = "/v1/events"
	PathHealth  = "/healthz"
	PathMetrics = "/metrics"
)

// healthTimeout bounds a /healthz Kafka ping.
const healthTimeout = 3 * time.Second

// Gateway is the ingest gateway; it is an http.Handler.
type Gateway struct {
	cfg       cfg
	cl        *kgo.Client
	adm       admission
	rl        *rateLimiter // nil: no RateLimit
	m         *metrics
	tokenHash [sha256.Size]byte
	metricsH  http.Handler
	bufs      sync.Pool // *batch
	closeOnce sync.Once
}

// New makes a gateway and its Kafka producer. It does not contact Kafka:
// GET /healthz tells whether the cluster is reachable.
func New(opts ...Opt) (*Gateway, error) {
	c := defaultCfg()
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.validator == nil {
		v, err := event.NewValidator() // never fails without options
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		c.validator = v
	}
	kopts, err := c.conn.Opts()
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	kopts = append(kopts,
		kgo.RequiredAcks(kgo.AllISRAcks()), // with the default idempotence
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.MaxBufferedRecords(c.maxInFlight),
		// Requests wait for their acks: no lingering; records batch up
		// behind the produce requests in flight.
		kgo.ProducerLinger(0),
		kgo.RecordDeliveryTimeout(c.produceTimeout),
	)
	kopts = append(kopts, c.kgoOpts...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("gateway: kafka client: %w", err)
	}
	g := &Gateway{cfg: c, cl: cl}
	g.adm.max = int64(c.maxInFlight)
	g.rl = newRateLimiter(&c)
	if c.token != "" {
		g.tokenHash = sha256.Sum256([]byte(c.token))
	}
	g.m = newMetrics(func() float64 { return float64(g.adm.inFlight()) })
	g.metricsH = promhttp.HandlerFor(g.m.reg, promhttp.HandlerOpts{})
	g.bufs.New = func() any { return new(batch) }
	return g, nil
}

// Registry is the gateway's Prometheus registry (what GET /metrics serves).
func (g *Gateway) Registry() *prometheus.Registry { return g.m.reg }

// Close flushes the producer and closes the Kafka client. Call it after the
// HTTP server stopped handing requests to g (http.Server.Shutdown).
func (g *Gateway) Close() error {
	var err error
	g.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), g.cfg.produceTimeout)
		defer cancel()
		err = g.cl.Flush(ctx)
		g.cl.Close()
	})
	return err
}

// statusWriter remembers the status code written, for the metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP routes a request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	switch r.URL.Path {
	case PathEvents:
		if !allowMethod(sw, r, http.MethodPost) {
			break
		}
		g.serveEvents(sw, r)
	case PathMetadata:
		if allowMethod(sw, r, http.MethodPost) {
			g.serveMetadata(sw, r)
		}
	case PathHealth:
		if allowMethod(sw, r, http.MethodGet, http.MethodHead) {
			g.serveHealth(sw, r)
		}
	case PathMetrics:
		if allowMethod(sw, r, http.MethodGet) {
			g.metricsH.ServeHTTP(sw, r)
		}
	default:
		writeError(sw, http.StatusNotFound, "no such path "+r.URL.Path+" (POST "+PathEvents+", POST "+PathMetadata+", GET "+PathHealth+", GET "+PathMetrics+")")
	}
	if sw.code == 0 {
		sw.code = http.StatusOK
	}
	g.m.request(sw.code)
}

// allowMethod answers 405 unless r's method is one of methods.
func allowMethod(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	allow := methods[0]
	for _, m := range methods[1:] {
		allow += ", " + m
	}
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path+" (allowed: "+allow+")")
	return false
}

// serveHealth answers 200 when a Kafka broker answers, 503 otherwise.
func (g *Gateway) serveHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	if err := g.cl.Ping(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "kafka unreachable: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
