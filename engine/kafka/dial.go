package kafka

import (
	"context"
	"crypto/tls"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"time"
)

// dialTimeout is the dial timeout of a BrokerMap dialer (kgo's default).
const dialTimeout = 10 * time.Second

// dialer is the kgo dial function of a Conn with a BrokerMap: it dials the
// mapped address of a broker (TLS with tc on top when tc is not nil, with
// the broker's host as the server name).
func (c Conn) dialer(tc *tls.Config) func(ctx context.Context, network, host string) (net.Conn, error) {
	m := maps.Clone(c.BrokerMap)
	d := &net.Dialer{Timeout: dialTimeout}
	return func(ctx context.Context, network, host string) (net.Conn, error) {
		addr := host
		if to, ok := m[host]; ok {
			addr = to
		}
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil || tc == nil {
			return conn, err
		}
		name, _, err := net.SplitHostPort(host)
		if err != nil {
			name = host
		}
		cfg := tc.Clone()
		cfg.ServerName = name
		tlsConn := tls.Client(conn, cfg)
		hctx, cancel := context.WithTimeout(ctx, dialTimeout)
		defer cancel()
		if err := tlsConn.HandshakeContext(hctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tlsConn, nil
	}
}

// ParseBrokerMap parses a broker map flag, from=to[,from=to...], each side
// a host:port; "" is an empty map.
func ParseBrokerMap(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		from, to, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("broker map: %q is not from=to", pair)
		}
		for _, a := range []string{from, to} {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, fmt.Errorf("broker map: %q: %v", pair, err)
			}
		}
		if prev, dup := m[from]; dup && prev != to {
			return nil, fmt.Errorf("broker map: %s mapped twice (%s, %s)", from, prev, to)
		}
		m[from] = to
	}
	return m, nil
}

// FormatBrokerMap is m as ParseBrokerMap reads it, sorted by address.
func FormatBrokerMap(m map[string]string) string {
	pairs := make([]string, 0, len(m))
	for _, from := range slices.Sorted(maps.Keys(m)) {
		pairs = append(pairs, from+"="+m[from])
	}
	return strings.Join(pairs, ",")
}
