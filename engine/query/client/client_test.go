package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestClient(t *testing.T) {
	var gotPath, gotQuery, gotAuth string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotQuery, gotAuth = r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("type") {
		case "BAD":
			w.WriteHeader(400)
			w.Write([]byte(`{"error":"unknown type \"BAD\"","param":"type"}`))
		case "DOWN":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(503)
			w.Write([]byte(`{"error":"influxdb: connection refused"}`))
		case "TEXT":
			w.WriteHeader(502)
			w.Write([]byte("bad gateway"))
		default:
			switch {
			case r.URL.Path == "/v1/top":
				w.Write([]byte(`{"type":"VIEW","window":"60s","from":"2026-01-01T00:00:00Z","to":"2026-01-01T00:05:00Z","n":2,
					"items":[{"key":"a","count":5},{"key":"b","count":5}],"exact":true,"aligned":true,"source":"memory"}`))
			case r.URL.Query().Get("fn") != "":
				w.Write([]byte(`{"key":"a/b c","fn":"min","type":"VIEW","window":"60s","from":"2026-01-01T00:00:00Z","to":"2026-01-01T00:01:00Z","value":null,"count":0,"windows":1,"aligned":true,"source":"influx"}`))
			default:
				w.Write([]byte(`{"key":"a/b c","type":"VIEW","window":"60s","from":"2026-01-01T00:00:00Z","to":"2026-01-01T00:01:00Z","count":42,"windows":1,"aligned":false,"source":"mixed"}`))
			}
		}
	}))
	defer hs.Close()
	c, err := New(hs.URL+"/", Token("tok"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	from := time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)

	cr, err := c.Count(ctx, CountRequest{Key: "a/b c", Range: Range{Type: "VIEW", From: from, To: from.Add(time.Second), Filter: map[string]string{"country": "US"}, Window: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if cr.Count != 42 || cr.Source != "mixed" || cr.Aligned || !cr.From.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("count: %+v", cr)
	}
	if gotPath != "/v1/counts/a%2Fb%20c" || gotAuth != "Bearer tok" ||
		gotQuery != "filter=country%3AUS&from=1767225630000&to=1767225631000&type=VIEW&window=1m0s" {
		t.Fatalf("request: path %q query %q auth %q", gotPath, gotQuery, gotAuth)
	}

	sr, err := c.Stats(ctx, StatsRequest{Key: "a/b c", Fn: "min", Range: Range{Type: "VIEW"}})
	if err != nil || sr.Value != 0 || sr.Count != 0 || sr.Fn != "min" {
		t.Fatalf("stats: %+v %v", sr, err)
	}
	tr, err := c.Top(ctx, TopRequest{N: 2, Range: Range{Type: "VIEW"}})
	if err != nil || len(tr.Items) != 2 || tr.Items[1] != (TopItem{"b", 5}) || !tr.Exact {
		t.Fatalf("top: %+v %v", tr, err)
	}
	if gotQuery != "n=2&type=VIEW" {
		t.Fatalf("top query %q", gotQuery)
	}

	f := func(typ string, status int, param string, retry time.Duration) {
		t.Helper()
		_, err := c.Count(ctx, CountRequest{Key: "k", Range: Range{Type: typ}})
		var e *Error
		if !errors.As(err, &e) || e.Status != status || e.Param != param || e.RetryAfter != retry || e.Message == "" {
			t.Fatalf("%s: got %#v", typ, err)
		}
		if IsUnavailable(err) != (status == 503) {
			t.Fatalf("%s: IsUnavailable wrong", typ)
		}
	}
	f("BAD", 400, "type", 0)
	f("DOWN", 503, "", 7*time.Second)
	f("TEXT", 502, "", 0)

	if _, err := c.Count(ctx, CountRequest{Range: Range{Type: "VIEW"}}); err == nil {
		t.Fatal("empty key: want an error")
	}
	for _, bad := range []string{"", "127.0.0.1:8081", "ftp://x", "http://"} {
		if _, err := New(bad); err == nil {
			t.Fatalf("New(%q): want an error", bad)
		}
	}
}
