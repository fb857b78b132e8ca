package target

import (
	"context"
	"fmt"
	"strings"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/countlab/countlab/faults"
)

// links are a target's proxied connections while a run lasts: a toxiproxy
// proxy per Link, grouped by fault link name.
type links struct {
	srv   *toxiproxy.ApiServer
	links map[string][]*toxiproxy.Proxy
}

var _ faults.Network = (*controls)(nil)

// StartLinks starts a proxy on every link's listen address (nothing when
// the target has no links); Close stops them. The run calls it before the
// pre-flight health check, since the pipeline reaches its upstreams
// through them.
func (t *Target) StartLinks(context.Context) error {
	if len(t.Spec.Links) == 0 || t.ctl.net != nil {
		return nil
	}
	// toxiproxy logs with zerolog, some toxics through its global logger.
	zerolog.SetGlobalLevel(zerolog.Disabled)
	n := &links{srv: toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()), links: map[string][]*toxiproxy.Proxy{}}
	for i, l := range t.Spec.Links {
		p := toxiproxy.NewProxy(n.srv, fmt.Sprintf("%s-%d", l.Name, i), l.Listen, l.Upstream)
		if err := n.srv.Collection.Add(p, true); err != nil {
			n.close()
			return fmt.Errorf("target.links[%d]: listen on %s: %w", i, l.Listen, err)
		}
		n.links[l.Name] = append(n.links[l.Name], p)
	}
	t.ctl.net = n
	t.closers = append(t.closers, func() { n.close(); t.ctl.net = nil })
	return nil
}

func (n *links) close() {
	for _, ps := range n.links {
		for _, p := range ps {
			p.Stop()
		}
	}
}

// LinkProxies implements faults.Network: the proxies of link.
func (c *controls) LinkProxies(link string) ([]*toxiproxy.Proxy, error) {
	if c.net == nil {
		return nil, fmt.Errorf("the target's links are not started: %w", faults.ErrUnsupported)
	}
	ps, ok := c.net.links[link]
	if !ok {
		names := make([]string, 0, len(c.net.links))
		for k := range c.net.links {
			names = append(names, k)
		}
		return nil, fmt.Errorf("the target has no link %q (its links: %s): %w", link, strings.Join(names, ", "), faults.ErrUnsupported)
	}
	return ps, nil
}

// checkLinks refuses a network fault on a link the target does not declare.
func checkLinks(specs []faults.Spec, declared []Link) error {
	have := map[string]bool{}
	for _, l := range declared {
		have[l.Name] = true
	}
	for _, s := range specs {
		if !faults.NetworkKind(s.Kind) || len(declared) == 0 {
			continue
		}
		link, _ := s.Params["link"].(string)
		if s.Kind == "sink-slow" {
			link = faults.LinkSinkInflux
		}
		if link != "" && !have[link] {
			return fmt.Errorf("fault %s (%s): link %s is not among the target's links; add a target.links entry named %s", cmpOr(s.Name, s.Kind), s.Kind, link, link)
		}
	}
	return nil
}
