package loadgen

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/bad" {
			http.Error(w, "no", http.StatusTeapot)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	r, err := Run(Config{URLs: []string{srv.URL + "/a", srv.URL + "/b"}, Rate: 1000, Duration: 500 * time.Millisecond, Conns: 4})
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 500 || r.OK != 500 || r.Failed != 0 || hits.Load() != 500 || r.Hist().TotalCount() != 500 {
		t.Fatalf("sent %d ok %d failed %d hits %d recorded %d (%s)", r.Sent, r.OK, r.Failed, hits.Load(), r.Hist().TotalCount(), r.FirstErr)
	}
	if r.Quantile(50) <= 0 || r.MaxMs() < r.Quantile(99) {
		t.Fatalf("p50 %v p99 %v max %v", r.Quantile(50), r.Quantile(99), r.MaxMs())
	}
	r, err = Run(Config{URLs: []string{srv.URL + "/bad"}, Rate: 100, Duration: 100 * time.Millisecond, Conns: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Failed != 10 || !strings.Contains(r.FirstErr, "418") {
		t.Fatalf("failed %d, first %q", r.Failed, r.FirstErr)
	}
}

func TestConfigRefused(t *testing.T) {
	f := func(c Config, want string) {
		t.Helper()
		if _, err := Run(c); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%+v: got %v, want %q", c, err, want)
		}
	}
	ok := Config{URLs: []string{"http://127.0.0.1:1/"}, Rate: 10, Duration: time.Second, Conns: 1}
	c := ok
	c.URLs = []string{"http://example.com/"}
	f(c, "only http://127.0.0.1")
	c.URLs = []string{"http://localhost:80/"}
	f(c, "only http://127.0.0.1")
	c = ok
	c.Duration = time.Hour
	f(c, "duration")
	c = ok
	c.Rate = 1_000_000
	c.Duration = time.Minute
	f(c, "maximum")
	c = ok
	c.Conns = 0
	f(c, "conns")
	c = ok
	c.URLs = nil
	f(c, "no URLs")
}

func TestMainErr(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	defer srv.Close()
	in, _ := json.Marshal(Config{URLs: []string{srv.URL}, Rate: 200, Duration: 100 * time.Millisecond, Conns: 2})
	var out bytes.Buffer
	if err := mainErr(bytes.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.OK != 20 || r.Hist().TotalCount() != 20 {
		t.Fatalf("%+v", r)
	}
}
