package query

import "github.com/prometheus/client_golang/prometheus"

// Registry is the server's Prometheus registry (what GET /metrics serves),
// for a process that serves every part's metrics on one endpoint.
func (s *Server) Registry() *prometheus.Registry { return s.m.reg }
