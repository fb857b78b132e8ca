package faults

// sink-errors: InfluxDB answers 5xx. toxiproxy works on bytes and cannot
// answer an HTTP status, so a Target puts an ErrorProxy (an HTTP reverse
// proxy) in front of InfluxDB on the sink's link and the fault switches it
// to failing.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// HTTPFaults is the optional capability of a Target whose sink reaches
// InfluxDB through an ErrorProxy; sink-errors needs it.
type HTTPFaults interface {
	SinkErrorProxy() (*ErrorProxy, error)
}

// ErrorProxy is an HTTP reverse proxy to one upstream (InfluxDB) that,
// while failing (Fail), answers a share of the requests with a 5xx
// itself: without forwarding them, or after forwarding them (the write is
// applied but the client sees an error and retries). It passes everything
// through otherwise. Headers (the token) are forwarded, never logged.
type ErrorProxy struct {
	rp    *httputil.ReverseProxy
	state atomic.Pointer[errorState]
	hits  atomic.Int64
}

// errorState is how an ErrorProxy fails.
type errorState struct {
	probability float64
	status      int
	forward     bool
}

// forwardedKey marks a request to forward and then fail.
type forwardedKey struct{}

// errorBody is the body of an injected error, as InfluxDB writes one.
func errorBody(status int) string {
	return `{"code":"internal error","message":"countlab sink-errors fault: ` + strconv.Itoa(status) + `"}`
}

// NewErrorProxy is an ErrorProxy to upstream (scheme, host and path
// prefix; the Host header is the upstream's), passing everything through.
// log gets proxy errors (nil: discarded).
func NewErrorProxy(upstream *url.URL, log *slog.Logger) *ErrorProxy {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &ErrorProxy{}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(upstream)
		},
		ModifyResponse: func(resp *http.Response) error {
			st, ok := resp.Request.Context().Value(forwardedKey{}).(*errorState)
			if !ok {
				return nil
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			body := errorBody(st.status)
			resp.StatusCode = st.status
			resp.Status = fmt.Sprintf("%d %s", st.status, http.StatusText(st.status))
			resp.Body = io.NopCloser(strings.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Header = http.Header{"Content-Type": {"application/json"}, "Content-Length": {strconv.Itoa(len(body))}}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Debug("sink error proxy: upstream", "path", r.URL.Path, "err", err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return p
}

// ServeHTTP proxies r, or fails it.
func (p *ErrorProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := p.state.Load()
	if st == nil || rand.Float64() >= st.probability {
		p.rp.ServeHTTP(w, r)
		return
	}
	p.hits.Add(1)
	if st.forward {
		p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), forwardedKey{}, st)))
		return
	}
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st.status)
	_, _ = io.WriteString(w, errorBody(st.status))
}

// Fail makes p answer status (5xx) to a share probability of the requests,
// after forwarding them when forward. It is an error when p already fails.
func (p *ErrorProxy) Fail(probability float64, status int, forward bool) error {
	if !p.state.CompareAndSwap(nil, &errorState{probability: probability, status: status, forward: forward}) {
		return errors.New("the sink error proxy is already failing (overlapping sink-errors faults)")
	}
	return nil
}

// Pass makes p pass everything through again.
func (p *ErrorProxy) Pass() { p.state.Store(nil) }

// Hits is the number of requests p failed so far.
func (p *ErrorProxy) Hits() int { return int(p.hits.Load()) }

// sinkErrors makes InfluxDB (the ErrorProxy in front of it) answer 5xx.
type sinkErrors struct {
	probability float64
	status      int
	forward     bool

	mu    sync.Mutex
	p     *ErrorProxy
	base  int // p's hits at the injection
	hits  int
	inned bool
}

func buildSinkErrors(p *params) (Fault, error) {
	f := &sinkErrors{}
	var err error
	if f.probability, err = p.float("probability", 0.5); err != nil {
		return nil, err
	}
	if !(f.probability > 0 && f.probability <= 1) {
		return nil, fmt.Errorf("param probability: must be in (0, 1] (got %v)", f.probability)
	}
	if f.status, err = p.int("status", http.StatusServiceUnavailable); err != nil {
		return nil, err
	}
	if f.status < 500 || f.status > 599 {
		return nil, fmt.Errorf("param status: must be a 5xx status, 500..599 (got %d)", f.status)
	}
	if f.forward, err = boolParam(p, "forward", false); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *sinkErrors) Inject(_ context.Context, t Target) error {
	h, ok := t.(HTTPFaults)
	if !ok {
		return fmt.Errorf("sink-errors needs the stack's sink error proxy: %w", ErrUnsupported)
	}
	p, err := h.SinkErrorProxy()
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.p, f.base = p, p.Hits()
	if err := p.Fail(f.probability, f.status, f.forward); err != nil {
		return err
	}
	f.inned = true
	return nil
}

func (f *sinkErrors) Heal(context.Context, Target) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inned {
		f.p.Pass()
		f.hits = f.p.Hits() - f.base
		f.inned = false
	}
	return nil
}

// Hits is the number of requests answered with the error so far.
func (f *sinkErrors) Hits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inned {
		return f.p.Hits() - f.base
	}
	return f.hits
}

// boolParam reads a true/false param.
func boolParam(p *params, name string, def bool) (bool, error) {
	v, ok := p.take(name)
	if !ok {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("param %s: want true or false, got %v", name, v)
	}
	return b, nil
}
