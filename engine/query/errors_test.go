package query_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/countlab/countlab/engine/query"
)

func get(t *testing.T, url, token string) string {
	t.Helper()
	code, body, _ := do(t, http.MethodGet, url, token)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	return body
}

func do(t *testing.T, method, url, token string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func containsString(s, sub string) bool { return strings.Contains(s, sub) }

func TestBadInput(t *testing.T) {
	const tok = "s3cret"
	_, _, base := serve(t, query.Token(tok), query.MaxRange(24*time.Hour), query.MaxTopN(50),
		query.Windows(time.Minute, 10*time.Second))
	f := func(method, path, token string, code int, param string) {
		t.Helper()
		got, body, h := do(t, method, base+path, token)
		if got != code {
			t.Fatalf("%s %s: got %d %s, want %d", method, path, got, body, code)
		}
		if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Fatalf("%s %s: content type %q", method, path, h.Get("Content-Type"))
		}
		var e struct{ Error, Param string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" || e.Param != param {
			t.Fatalf("%s %s: body %s (err %v), want an error naming param %q", method, path, body, err, param)
		}
		if code == 503 && h.Get("Retry-After") == "" {
			t.Fatalf("%s %s: 503 without Retry-After", method, path)
		}
	}
	const from, to = "from=2026-01-01T00:00:00Z", "to=2026-01-01T01:00:00Z"

	f("GET", "/v1/counts/k?type=VIEW&"+from+"&"+to, "", 401, "")
	f("GET", "/v1/counts/k?type=VIEW", "wrong", 401, "")
	f("GET", "/v1/top?type=VIEW", "", 401, "")
	f("GET", "/nope", tok, 404, "")
	f("GET", "/v1/count/k", tok, 404, "")
	f("GET", "/v1/top/extra", tok, 404, "")
	f("POST", "/v1/counts/k?type=VIEW", tok, 405, "")
	f("DELETE", "/v1/top?type=VIEW", tok, 405, "")
	f("PUT", "/healthz", "", 405, "")

	f("GET", "/v1/counts/?type=VIEW", tok, 400, "key")
	f("GET", "/v1/counts/k", tok, 400, "type")
	f("GET", "/v1/counts/k?type=view", tok, 400, "type")
	f("GET", "/v1/counts/k?type=NOPE", tok, 400, "type")
	f("GET", "/v1/top?type=", tok, 400, "type")
	f("GET", "/v1/counts/k?type=VIEW&from=yesterday", tok, 400, "from")
	f("GET", "/v1/counts/k?type=VIEW&to=2026-13-01T00:00:00Z", tok, 400, "to")
	f("GET", "/v1/counts/k?type=VIEW&from=2026-01-01T01:00:00Z&to=2026-01-01T01:00:00Z", tok, 400, "from")
	f("GET", "/v1/counts/k?type=VIEW&from=1767232800000&to=1767229200000", tok, 400, "from")
	f("GET", "/v1/counts/k?type=VIEW&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:01Z", tok, 400, "from")
	f("GET", "/v1/counts/k?type=VIEW&window=5s&"+from+"&"+to, tok, 400, "window")
	f("GET", "/v1/counts/k?type=VIEW&window=banana&"+from+"&"+to, tok, 400, "window")
	for _, bad := range []string{"country", ":US", "country:", "country:US,country:DE", "country:US,,device:ios"} {
		f("GET", "/v1/counts/k?type=VIEW&filter="+bad+"&"+from+"&"+to, tok, 400, "filter")
		f("GET", "/v1/top?type=VIEW&filter="+bad+"&"+from+"&"+to, tok, 400, "filter")
	}
	f("GET", "/v1/stats/k?type=VIEW&"+from+"&"+to, tok, 400, "fn")
	f("GET", "/v1/stats/k?type=VIEW&fn=median&"+from+"&"+to, tok, 400, "fn")
	for _, n := range []string{"0", "-1", "51", "ten", "1.5"} {
		f("GET", "/v1/top?type=VIEW&n="+n+"&"+from+"&"+to, tok, 400, "n")
	}
	// valid but no InfluxDB and no Kafka: 503 naming no parameter.
	f("GET", "/v1/counts/k?type=VIEW&window=10s&"+from+"&"+to, tok, 503, "")
	f("GET", "/v1/top?type=VIEW&n=50&"+from+"&"+to, tok, 503, "")

	if body := get(t, base+"/healthz", ""); !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("healthz: %s", body)
	}
	if body := get(t, base+"/metrics", ""); !strings.Contains(body, `countlab_query_requests_total{code="401",endpoint="counts"} 2`) {
		t.Fatalf("metrics lack the 401s:\n%s", body)
	}
}

// TestOpenAPI checks that openapi.yaml parses and that every path and
// method it documents is served (no 404 or 405).
func TestOpenAPI(t *testing.T) {
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Paths) != 7 {
		t.Fatalf("openapi %q with %d paths", doc.OpenAPI, len(doc.Paths))
	}
	_, _, base := serve(t)
	for path, methods := range doc.Paths {
		for m := range methods {
			p := strings.ReplaceAll(path, "{key}", "k") + "?type=VIEW&fn=sum"
			code, body, _ := do(t, strings.ToUpper(m), base+p, "")
			if code == 404 || code == 405 {
				t.Errorf("%s %s: %d %s", m, path, code, body)
			}
		}
	}
}
