// Package query is the read side of the reference engine: an HTTP JSON API
// answering counts, statistics and exact top-N over time ranges from the
// window totals the aggregator writes.
//
// Serving path. The server reads the compacted aggregates topic (every
// partition, no consumer group, committed transactions only) from the
// beginning and keeps the windows of the last Retention (default 2 h) in
// memory, indexed by (window size, type, key) -> window for counts and by
// (window size, type, window) -> key for top-N; a newer total of a series
// replaces the older, and a key's value for a window is the sum over its
// series (dimension sets and sub-keys). Ranges older than the retention are
// answered from InfluxDB with Flux (every value quoted by FluxString), under
// a timeout, with an LRU cache of answers for closed windows, never served
// once a newer total of its windows may be in InfluxDB (fresh.go); a range
// straddling the boundary is answered from both ("source": "mixed"). While
// InfluxDB is down, memory ranges still answer and ranges needing InfluxDB
// get 503 with Retry-After. Until the topic has been read up to its end at
// startup, every range goes to InfluxDB.
//
// A range is answered by whole windows: [WindowStart(from),
// WindowStart(to-1)+size); "aligned" says whether that is the range asked.
//
// Endpoints (see openapi.yaml):
//
//	GET /v1/counts/{key}?type=&from=&to=&filter=&window=
//	GET /v1/stats/{key}?type=&fn=count|sum|avg|min|max&from=&to=&filter=&window=
//	GET /v1/top?type=&n=&from=&to=&filter=&window=
//	GET /healthz
//	GET /metrics
package query

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/total"
)

// Server answers queries; it is an http.Handler. Close stops it.
type Server struct {
	cfg      cfg
	st       *store
	fresh    *freshness
	m        *metrics
	cons     *consumer     // nil without Kafka
	influx   *influxSource // nil without InfluxDB
	topCache *lru[topKey, topEntry]
	// stableCache holds merged counts of ranges of windows no longer
	// updated, for top-N misses.
	stableCache *lru[string, stableEntry]
	// incCache holds unfiltered in-memory top-N kept up to date from the
	// store's change log.
	incCache *lru[topKey, *incEntry]
	metricsH http.Handler
	tokenSum [sha256.Size]byte // SHA-256 of cfg.token
	// sizeNames are the names of cfg.windows (total.SizeName).
	sizeNames []string
	observe   map[string]prometheus.Observer
	served    map[string]prometheus.Counter // endpoint -> requests answered 200

	flightMu sync.Mutex
	flights  map[topKey]*flight // top-N answers being computed

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Endpoint names, as metrics label them.
var endpoints = []string{"counts", "stats", "top", "healthz", "metrics", "other"}

// New starts a server: its Kafka consumer (with Kafka) and its eviction of
// windows older than the retention.
func New(opts ...Opt) (*Server, error) {
	c := defaultCfg()
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: c, st: newStore(), fresh: newFreshness(), m: newMetrics(), topCache: newLRU[topKey, topEntry](c.cacheSize),
		stableCache: newLRU[string, stableEntry](max(1, c.cacheSize/64)), flights: make(map[topKey]*flight),
		incCache: newLRU[topKey, *incEntry](max(4, c.cacheSize/64))}
	s.tokenSum = sha256.Sum256([]byte(c.token))
	s.metricsH = promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{})
	for _, w := range c.windows {
		s.sizeNames = append(s.sizeNames, total.SizeName(w.Milliseconds()))
	}
	s.observe = make(map[string]prometheus.Observer, len(endpoints))
	s.served = make(map[string]prometheus.Counter, len(endpoints))
	for _, e := range endpoints {
		s.observe[e] = s.m.latency.WithLabelValues(e)
		s.served[e] = s.m.requests.WithLabelValues(e, "200")
	}
	if len(c.conn.Brokers) > 0 {
		cons, err := newConsumer(&c, s.st, s.floor, s.fresh, s.m)
		if err != nil {
			return nil, err
		}
		s.cons = cons
	}
	if c.influx != nil {
		if c.rollup != nil {
			*c.influx = influx.PolicyBuckets(*c.influx, *c.rollup)
		}
		s.influx = newInfluxSource(*c.influx, c.influxTimeout, c.cacheSize, s.fresh, s.m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if s.cons != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.cons.run(ctx) }()
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.evictLoop(ctx) }()
	c.logger.Info("query: started", "topic", c.topic, "kafka", c.conn.String(),
		"influx", c.influx != nil, "retention", c.retention, "auth", c.token != "")
	return s, nil
}

// Close stops the consumer and the eviction and releases the clients.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
	if s.influx != nil {
		s.influx.close()
	}
}

// Ready reports whether the aggregates topic has been read up to its end
// at startup (always false without Kafka: everything comes from InfluxDB).
func (s *Server) Ready() bool { return s.cons != nil && s.cons.isReady() }

// WaitReady waits until Ready or ctx is done.
func (s *Server) WaitReady(ctx context.Context) error {
	if s.cons == nil {
		return nil
	}
	select {
	case <-s.cons.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// floor is the first window start of size held in memory: the first
// window starting at or after now - retention.
func (s *Server) floor(size int64) int64 {
	t := s.cfg.now().UnixMilli() - s.cfg.retention.Milliseconds()
	f := total.WindowStart(t, size)
	if f < t {
		f += size
	}
	return f
}

func (s *Server) evictLoop(ctx context.Context) {
	every(ctx, s.cfg.evictEvery, func() {
		s.st.evict(s.floor)
		w, c := s.st.size()
		s.m.windows.Set(float64(w))
		s.m.cells.Set(float64(c))
	})
}

// every calls fn every d until ctx is done.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	endpoint, handle := s.route(r.URL.Path)
	code := s.serve(w, r, endpoint, handle)
	s.observe[endpoint].Observe(time.Since(start).Seconds())
	if code == http.StatusOK {
		s.served[endpoint].Inc()
		return
	}
	s.m.requests.WithLabelValues(endpoint, codeName(code)).Inc()
}

// handler names an endpoint's handler (a method value would cost an
// allocation per request).
type handler int

const (
	noHandler handler = iota
	countHandler
	statsHandler
	topHandler
	healthHandler
	metricsHandler
)

func (s *Server) route(path string) (string, handler) {
	switch {
	case strings.HasPrefix(path, "/v1/counts/"):
		return "counts", countHandler
	case strings.HasPrefix(path, "/v1/stats/"):
		return "stats", statsHandler
	case path == "/v1/top":
		return "top", topHandler
	case path == "/healthz":
		return "healthz", healthHandler
	case path == "/metrics":
		return "metrics", metricsHandler
	}
	return "other", noHandler
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, endpoint string, h handler) int {
	if h == noHandler {
		return writeError(w, http.StatusNotFound, "", "no such endpoint "+r.URL.Path)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return writeError(w, http.StatusMethodNotAllowed, "", "method "+r.Method+" not allowed")
	}
	if s.cfg.token != "" && strings.HasPrefix(r.URL.Path, "/v1/") && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="countlab"`)
		return writeError(w, http.StatusUnauthorized, "", "missing or wrong bearer token")
	}
	switch h {
	case countHandler:
		return s.handleCount(w, r)
	case statsHandler:
		return s.handleStats(w, r)
	case topHandler:
		return s.handleTop(w, r)
	case healthHandler:
		return s.handleHealth(w, r)
	}
	s.metricsH.ServeHTTP(w, r)
	return http.StatusOK
}

// authorized reports whether r carries "Authorization: Bearer TOKEN" with
// the server's token. The scheme is matched case-insensitively (RFC 7235)
// and may be followed by several spaces. The token is compared by its
// SHA-256 digest in constant time, so the time taken tells nothing about
// the token, its length included.
func (s *Server) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	var buf [512]byte // on the stack: []byte(tok) would allocate past 32 bytes
	got := sha256.Sum256(append(buf[:0], strings.TrimLeft(tok, " ")...))
	return subtle.ConstantTimeCompare(got[:], s.tokenSum[:]) == 1
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) int {
	windows, cells := s.st.size()
	return writeJSON(w, http.StatusOK, health{
		Status: "ok", Ready: s.Ready(), Kafka: s.cons != nil, Influx: s.influx != nil,
		Retention: s.cfg.retention.String(), Windows: windows, Cells: cells,
	})
}

type health struct {
	Status    string `json:"status"`
	Ready     bool   `json:"ready"`
	Kafka     bool   `json:"kafka"`
	Influx    bool   `json:"influx"`
	Retention string `json:"retention"`
	Windows   int    `json:"windows"`
	Cells     int    `json:"cells"`
}
