package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// pprofFlagUsage is --pprof's help.
const pprofFlagUsage = "serve Go's profiles of the countlab process (net/http/pprof: /debug/pprof/heap, /profile, /goroutine ...) on this loopback address, e.g. 127.0.0.1:6060, while the run goes on (a long run's memory: go tool pprof -diff_base)"

// servePprof serves net/http/pprof on addr ("": nothing), which must be a
// loopback address: the profiles show the run's data. stop ends it.
func servePprof(addr string) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, usagef("--pprof %q: want HOST:PORT on loopback, e.g. 127.0.0.1:6060", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, usagef("--pprof %q: serve profiles on a loopback address only (127.0.0.1:PORT)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "countlab: --pprof: %v\n", err)
		}
	}()
	fmt.Fprintf(os.Stderr, "  profiles http://%s/debug/pprof/\n", ln.Addr())
	return func() { srv.Close() }, nil
}
