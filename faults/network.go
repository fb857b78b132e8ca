package faults

// Network faults: toxiproxy toxics on the links of a stack. A Target that
// routes a link through toxiproxy proxies (github.com/Shopify/toxiproxy/v2,
// used as a library) implements Network; each network kind adds one
// toxiproxy toxic to every proxy of its link, in the directions asked, and
// removes it when healed.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
)

// The links a Network target routes through proxies.
const (
	// LinkEngineBroker is every connection the engine workers make to the
	// Kafka brokers (one proxy per broker address).
	LinkEngineBroker = "engine-broker"
	// LinkSinkInflux is the sink's HTTP connections to InfluxDB.
	LinkSinkInflux = "sink-influx"
)

// Links are the link names, for the link param.
func Links() []string { return []string{LinkEngineBroker, LinkSinkInflux} }

// Network is the optional capability of a Target whose links run through
// toxiproxy proxies; the network kinds (and sink-slow) need it and fail
// with ErrUnsupported without it.
type Network interface {
	// LinkProxies are the running proxies of link (one of Links): one
	// per upstream address.
	LinkProxies(link string) ([]*toxiproxy.Proxy, error)
}

// NetworkKind reports whether kind needs the stack's proxies (the
// network kinds, sink-slow and sink-errors).
func NetworkKind(kind string) bool {
	switch kind {
	case "network-latency", "network-bandwidth", "network-reset", "network-partition", "network-slow-close", "sink-slow", "sink-errors":
		return true
	}
	return false
}

// Param docs of the network kinds.
const (
	linkParamsDoc     = "link: engine-broker or sink-influx (required); direction: both, upstream (to the server) or downstream (default both); toxicity: (0, 1], the share of connections affected (default 1)"
	latencyParamsDoc  = "latency_ms: >= 0 (default 100); jitter_ms: >= 0 (default 0); " + linkParamsDoc
	sinkSlowParamsDoc = "latency_ms: >= 0 (default 200); jitter_ms: >= 0 (default 0); direction, toxicity as network-latency (link: sink-influx)"
)

// toxicSeq makes toxic names unique across faults.
var toxicSeq atomic.Int64

// toxicFault adds one toxiproxy toxic to every proxy of a link.
type toxicFault struct {
	kind     string
	link     string
	typ      string         // toxiproxy toxic type
	attrs    map[string]any // its attributes
	streams  []string       // "upstream", "downstream"
	toxicity float64

	mu    sync.Mutex
	added []addedToxic
}

type addedToxic struct {
	p    *toxiproxy.Proxy
	name string
}

// linkParams reads link (required unless def is set), direction and
// toxicity into f.
func linkParams(p *params, f *toxicFault, def string) error {
	var err error
	if def == "" {
		if f.link, err = p.string("link", ""); err != nil {
			return err
		}
		if f.link == "" {
			return fmt.Errorf("param link: required (one of: %s)", strings.Join(Links(), ", "))
		}
		if err := oneOf("link", f.link, Links()); err != nil {
			return err
		}
	} else {
		f.link = def
	}
	dir, err := p.string("direction", "both")
	if err != nil {
		return err
	}
	switch dir {
	case "both":
		f.streams = []string{"upstream", "downstream"}
	case "upstream", "downstream":
		f.streams = []string{dir}
	default:
		return fmt.Errorf("param direction: unknown %q (one of: both, upstream, downstream)", dir)
	}
	if f.toxicity, err = p.float("toxicity", 1); err != nil {
		return err
	}
	if !(f.toxicity > 0 && f.toxicity <= 1) {
		return fmt.Errorf("param toxicity: must be in (0, 1] (got %v)", f.toxicity)
	}
	return nil
}

// nonNegative reads an integer param that must be >= 0.
func nonNegative(p *params, name string, def int) (int, error) {
	v, err := p.int(name, def)
	if err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, fmt.Errorf("param %s: must be >= 0 (got %d)", name, v)
	}
	return v, nil
}

func buildNetworkLatency(p *params) (Fault, error) {
	return buildLatency(p, "network-latency", "", 100)
}

// buildSinkSlow is network-latency on the sink-influx link.
func buildSinkSlow(p *params) (Fault, error) {
	return buildLatency(p, "sink-slow", LinkSinkInflux, 200)
}

func buildLatency(p *params, kind, link string, def int) (Fault, error) {
	lat, err := nonNegative(p, "latency_ms", def)
	if err != nil {
		return nil, err
	}
	jit, err := nonNegative(p, "jitter_ms", 0)
	if err != nil {
		return nil, err
	}
	f := &toxicFault{kind: kind, typ: "latency", attrs: map[string]any{"latency": lat, "jitter": jit}}
	return f, linkParams(p, f, link)
}

func buildNetworkBandwidth(p *params) (Fault, error) {
	kb, err := p.int("kb_per_s", 100)
	if err != nil {
		return nil, err
	}
	if kb < 1 {
		return nil, fmt.Errorf("param kb_per_s: must be >= 1 (got %d)", kb)
	}
	f := &toxicFault{kind: "network-bandwidth", typ: "bandwidth", attrs: map[string]any{"rate": kb}}
	return f, linkParams(p, f, "")
}

func buildNetworkReset(p *params) (Fault, error) {
	after, err := nonNegative(p, "after_ms", 0)
	if err != nil {
		return nil, err
	}
	f := &toxicFault{kind: "network-reset", typ: "reset_peer", attrs: map[string]any{"timeout": after}}
	return f, linkParams(p, f, "")
}

func buildNetworkSlowClose(p *params) (Fault, error) {
	d, err := nonNegative(p, "delay_ms", 1000)
	if err != nil {
		return nil, err
	}
	f := &toxicFault{kind: "network-slow-close", typ: "slow_close", attrs: map[string]any{"delay": d}}
	return f, linkParams(p, f, "")
}

// networkPartition cuts a link: a blackhole (toxiproxy's timeout toxic
// with timeout 0 both ways: connections open, nothing goes through, and
// the heal closes them) or refused connections (the proxies stopped:
// open connections closed, new ones refused; started again when healed).
type networkPartition struct {
	toxicFault
	refuse bool

	stopped []*toxiproxy.Proxy
}

func buildNetworkPartition(p *params) (Fault, error) {
	mode, err := p.string("mode", "blackhole")
	if err != nil {
		return nil, err
	}
	if err := oneOf("mode", mode, []string{"blackhole", "refuse"}); err != nil {
		return nil, err
	}
	f := &networkPartition{toxicFault: toxicFault{kind: "network-partition", typ: "timeout", attrs: map[string]any{"timeout": 0}}, refuse: mode == "refuse"}
	if err := linkParams(p, &f.toxicFault, ""); err != nil {
		return nil, err
	}
	if f.refuse && (len(f.streams) != 2 || f.toxicity != 1) {
		return nil, errors.New("param mode: refuse cuts every connection both ways (no direction or toxicity)")
	}
	return f, nil
}

// proxies are the proxies of f's link on t.
func (f *toxicFault) proxies(t Target) ([]*toxiproxy.Proxy, error) {
	n, ok := t.(Network)
	if !ok {
		return nil, fmt.Errorf("%s needs the stack's network proxies: %w", f.kind, ErrUnsupported)
	}
	ps, err := n.LinkProxies(f.link)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("%s: link %s has no proxy", f.kind, f.link)
	}
	return ps, nil
}

// Inject adds the toxic to every proxy of the link, in each direction; when
// one cannot be added, those added are removed again (a fault that failed
// to inject is not healed).
func (f *toxicFault) Inject(ctx context.Context, t Target) error {
	ps, err := f.proxies(t)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	seq := toxicSeq.Add(1)
	for _, p := range ps {
		for _, st := range f.streams {
			name := fmt.Sprintf("countlab-%s-%d-%s", f.kind, seq, st)
			body, err := json.Marshal(map[string]any{"name": name, "type": f.typ, "stream": st, "toxicity": f.toxicity, "attributes": f.attrs})
			if err == nil {
				_, err = p.Toxics.AddToxicJson(bytes.NewReader(body))
			}
			if err != nil {
				err = fmt.Errorf("%s: proxy %s: add %s toxic: %w", f.kind, p.Name, f.typ, err)
				return errors.Join(err, f.removeAll(ctx))
			}
			f.added = append(f.added, addedToxic{p, name})
		}
	}
	return nil
}

func (f *toxicFault) Heal(ctx context.Context, _ Target) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.removeAll(ctx)
}

// removeAll removes the toxics f added (f.mu held).
func (f *toxicFault) removeAll(ctx context.Context) error {
	var errs []error
	for _, a := range f.added {
		if err := a.p.Toxics.RemoveToxic(ctx, a.name); err != nil {
			errs = append(errs, fmt.Errorf("proxy %s: remove toxic %s: %w", a.p.Name, a.name, err))
		}
	}
	f.added = nil
	return errors.Join(errs...)
}

func (f *networkPartition) Inject(ctx context.Context, t Target) error {
	if !f.refuse {
		return f.toxicFault.Inject(ctx, t)
	}
	ps, err := f.proxies(t)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range ps {
		p.Stop()
		f.stopped = append(f.stopped, p)
	}
	return nil
}

func (f *networkPartition) Heal(ctx context.Context, t Target) error {
	if !f.refuse {
		return f.toxicFault.Heal(ctx, t)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for _, p := range f.stopped {
		// Start listens on the proxy's address again (its port, now known).
		if err := p.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
			errs = append(errs, fmt.Errorf("proxy %s: restart on %s: %w", p.Name, p.Listen, err))
		}
	}
	f.stopped = nil
	return errors.Join(errs...)
}
