package query_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/query"
)

// strictServer is a query server over kfake (ready, nothing counted yet) with
// a token, behind a real HTTP listener: recent ranges answer 200 from memory.
func strictServer(t *testing.T, token string) string {
	t.Helper()
	conn, topics := startKafka(t)
	srv, _, base := serve(t, query.Kafka(conn), query.Topic(topics.Aggregates), query.Token(token),
		query.MaxRange(24*time.Hour), query.Logger(discardLogger()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return base
}

// request GETs base+path with the Authorization header auth (none when
// empty) and returns the status and the decoded error answer.
func request(t *testing.T, base, path, auth string) (int, string, apiErr) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e apiErr
	if resp.StatusCode != 200 {
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || json.Unmarshal(b, &e) != nil || e.Error == "" {
			t.Fatalf("GET %s: %d %q: not a JSON error", path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, string(b), e
}

type apiErr struct {
	Error string  `json:"error"`
	Param *string `json:"param"`
}

// TestStrictParams checks, with real requests, that an unknown or repeated
// query parameter, a malformed pair, and a time in unix seconds are
// answered 400 naming the parameter (issue 19); that only filter may
// repeat; and that the key limit is the ingest's.
func TestStrictParams(t *testing.T) {
	const tok = "s3cret"
	base := strictServer(t, tok)
	auth := "Bearer " + tok
	now := time.Now().UnixMilli()
	rng := "&from=" + strconv.FormatInt(now-120_000, 10) + "&to=" + strconv.FormatInt(now, 10)
	ok := func(path string) {
		t.Helper()
		if code, body, _ := request(t, base, path, auth); code != 200 {
			t.Fatalf("GET %s: %d %s, want 200", path, code, body)
		}
	}
	bad := func(path, param, inMsg string) {
		t.Helper()
		code, body, e := request(t, base, path, auth)
		named := e.Param != nil && *e.Param == param || e.Param == nil && param == "" // an empty name is not named
		if code != 400 || !named || !strings.Contains(e.Error, inMsg) {
			t.Fatalf("GET %s: %d %s, want 400 naming param %q with %q", path, code, body, param, inMsg)
		}
	}
	endpoints := []string{"/v1/counts/k?type=VIEW", "/v1/stats/k?type=VIEW&fn=sum", "/v1/top?type=VIEW&n=3"}
	for _, ep := range endpoints {
		ok(ep + rng)
		ok(ep + rng + "&filter=country:US&filter=device:ios") // filter may repeat: the pairs are joined
		ok(ep + rng + "&window=1m&&")                         // empty pairs are nothing
		for _, p := range []string{"foo=1", "From=1", "type%20=VIEW", "callback=x", "x", "fn2=sum"} {
			name, _, _ := strings.Cut(p, "=")
			name, _ = url.QueryUnescape(name)
			bad(ep+rng+"&"+p, name, "unknown parameter")
		}
		for _, p := range []string{"type=VIEW", "type=CLICK", "ty%70e=VIEW", "from=1", "to=2", "window=1m&window=1m"} {
			name, _, _ := strings.Cut(p, "=")
			name, _ = url.QueryUnescape(name)
			bad(ep+rng+"&"+p, name, "given more than once")
		}
		bad(ep+rng+"&=1", "", "empty parameter name")
		bad(ep+rng+"&window=1m;x=1", "window", "';'")
		bad(ep+rng+"&window=%zz", "window", "escape")
		bad(ep+rng+"&%zz=1", "%zz", "escape")
		// unix seconds instead of milliseconds: a hint, not "range too long".
		for _, sec := range []int64{now / 1000, 1795447277, 1_000_000_000} {
			s := strconv.FormatInt(sec, 10)
			bad(ep+"&from="+s, "from", "looks like unix seconds; send milliseconds or RFC 3339")
			bad(ep+"&from="+s+"&to="+strconv.FormatInt(sec+60, 10), "from", "looks like unix seconds")
			bad(ep+"&from="+strconv.FormatInt(now-60_000, 10)+"&to="+s, "to", "looks like unix seconds")
		}
		ok(ep + "&from=" + strconv.FormatInt(now-60_000, 10)) // milliseconds are fine
		// RFC 3339 in either case (§5.6), and an offset's '+' that the
		// query string turned into a space: a hint, not "want RFC 3339".
		from, to := time.UnixMilli(now-60_000).UTC(), time.UnixMilli(now).UTC()
		ok(ep + "&from=" + strings.ToLower(from.Format(time.RFC3339)) + "&to=" + strings.ToLower(to.Format(time.RFC3339Nano)))
		ok(ep + "&from=" + from.Format(time.RFC3339) + "&to=" + url.QueryEscape(to.In(time.FixedZone("", 3600)).Format(time.RFC3339)))
		bad(ep+"&from="+from.In(time.FixedZone("", 3600)).Format(time.RFC3339)+"&to="+to.Format(time.RFC3339), "from", "write the offset's '+' as %2B")
		bad(ep+"&from="+from.Format("2006-01-02_15:04:05Z"), "from", "want RFC 3339")
	}
	// Parameters of the other endpoints are unknown here.
	bad("/v1/counts/k?type=VIEW&fn=sum"+rng, "fn", "unknown parameter")
	bad("/v1/counts/k?type=VIEW&n=3"+rng, "n", "unknown parameter")
	bad("/v1/top?type=VIEW&fn=sum"+rng, "fn", "unknown parameter")
	bad("/v1/stats/k?type=VIEW&fn=sum&n=3"+rng, "n", "unknown parameter")
	bad("/v1/stats/k?type=VIEW&fn=sum&fn=sum"+rng, "fn", "given more than once")
	bad("/v1/top?type=VIEW&n=3&n=3"+rng, "n", "given more than once")

	// The key limit is the ingest's: any key it accepts can be asked for.
	for _, ep := range []string{"/v1/counts/", "/v1/stats/"} {
		q := "?type=VIEW&fn=sum" + rng
		if ep == "/v1/counts/" {
			q = "?type=VIEW" + rng
		}
		ok(ep + url.PathEscape(strings.Repeat("k", event.DefaultMaxKeyLen)) + q)
		ok(ep + url.PathEscape(strings.Repeat("é", event.DefaultMaxKeyLen/2)) + q)
		bad(ep+url.PathEscape(strings.Repeat("k", event.DefaultMaxKeyLen+1))+q, "key", "longer than "+strconv.Itoa(event.DefaultMaxKeyLen)+" bytes")
		bad(ep+url.PathEscape(strings.Repeat("é", event.DefaultMaxKeyLen/2)+"k")+q, "key", "longer than")
	}
}

// TestBearer checks, with real requests to every /v1 endpoint, that the
// scheme is matched case-insensitively and that any other token (longer,
// shorter, a prefix, empty) or scheme is refused with 401 (issue 19).
func TestBearer(t *testing.T) {
	const tok = "s3cret-token"
	base := strictServer(t, tok)
	now := time.Now().UnixMilli()
	rng := "&from=" + strconv.FormatInt(now-120_000, 10) + "&to=" + strconv.FormatInt(now, 10)
	for _, ep := range []string{"/v1/counts/k?type=VIEW", "/v1/stats/k?type=VIEW&fn=sum", "/v1/top?type=VIEW&n=3"} {
		for _, auth := range []string{"Bearer " + tok, "bearer " + tok, "BEARER " + tok, "BeArEr " + tok, "Bearer  " + tok} {
			if code, body, _ := request(t, base, ep+rng, auth); code != 200 {
				t.Errorf("GET %s with %q: %d %s, want 200", ep, auth, code, body)
			}
		}
		for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer s3cret", "Bearer s3cret-tokeN", "Bearer s3cret-token-and-more",
			"Bearer " + strings.Repeat("x", 10_000), "Basic " + tok, "Bearer" + tok, tok, "Token " + tok, "Bearer " + tok + " x"} {
			code, body, _ := request(t, base, ep+rng, auth)
			if code != 401 {
				t.Errorf("GET %s with %q: %d %s, want 401", ep, auth, code, body)
			}
		}
	}
	// /healthz and /metrics stay open.
	for _, p := range []string{"/healthz", "/metrics"} {
		if code, body, _ := request(t, base, p, ""); code != 200 {
			t.Errorf("GET %s: %d %s", p, code, body)
		}
	}
}
