package influxd

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestOurs checks that a server answering on our port is recognized as
// ours only when its command line names our config file.
func TestOurs(t *testing.T) {
	f := func(name string, handler http.HandlerFunc, want bool) {
		t.Helper()
		srv := httptest.NewServer(handler)
		defer srv.Close()
		s := &Server{lay: layout{dir: "/data/x", httpPort: srv.Listener.Addr().(*net.TCPAddr).Port}}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if got := s.ours(ctx, srv.Client()); got != want {
			t.Errorf("%s: ours = %v, want %v", name, got, want)
		}
	}
	vars := func(cmdline string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"system": {"uptime": 1}, "cmdline": %s, "memstats": {}}`, cmdline)
		}
	}
	f("our config", vars(`["influxd","run","-config","/data/x/influxd.conf"]`), true)
	f("another config", vars(`["influxd","run","-config","/data/y/influxd.conf"]`), false)
	f("no endpoint", http.NotFound, true)
	f("not json", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>") }, false)
}
