package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	must(t, err)
	must(t, zw.Close())
	return buf.Bytes()
}

func zstded(t testing.TB, b []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	must(t, err)
	defer zw.Close()
	return zw.EncodeAll(b, nil)
}

// TestContentEncoding: gzip and zstd bodies are taken, the body limit
// holds for the decoded size, and other encodings are answered 415 (issue
// 19).
func TestContentEncoding(t *testing.T) {
	c, topics := newCluster(t)
	_, srv := newServer(t, c, topics, MaxBodyBytes(4000))
	send := func(enc string, body []byte) reply {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+PathEvents, bytes.NewReader(body))
		must(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", enc)
		return do(t, req)
	}
	plain := events("enc", 5)
	for _, c := range []struct {
		enc  string
		body []byte
	}{{"gzip", gzipped(t, plain)}, {"GZIP", gzipped(t, plain)}, {"x-gzip", gzipped(t, plain)}, {"zstd", zstded(t, plain)}, {"identity", plain}} {
		if r := send(c.enc, c.body); r.code != http.StatusOK || r.resp.Accepted != 5 {
			t.Errorf("Content-Encoding %s: status %d %s, want 200 and 5 accepted", c.enc, r.code, r.raw)
		}
	}
	consumeAll(t, c, topics.Events, 25)

	// 40 kB of whitespace compresses to well under the limit of 4000
	// bytes; decoded it is over.
	bomb := append(append([]byte("["), bytes.Repeat([]byte(" "), 40_000)...), ']')
	for enc, body := range map[string][]byte{"gzip": gzipped(t, bomb), "zstd": zstded(t, bomb)} {
		if len(body) >= 4000 {
			t.Fatalf("%s of the bomb is %d bytes", enc, len(body))
		}
		if r := send(enc, body); r.code != http.StatusRequestEntityTooLarge || !strings.Contains(r.resp.Error, "4000 bytes") {
			t.Errorf("%s bomb: status %d %s, want 413", enc, r.code, r.raw)
		}
	}
	for _, enc := range []string{"br", "deflate", "gzip, br", "compress"} {
		r := send(enc, plain)
		if r.code != http.StatusUnsupportedMediaType || !strings.Contains(r.resp.Error, "unsupported Content-Encoding") || r.header.Get("Accept-Encoding") == "" {
			t.Errorf("Content-Encoding %s: status %d %s, want 415 with Accept-Encoding", enc, r.code, r.raw)
		}
	}
	if r := send("gzip", plain); r.code != http.StatusBadRequest || !strings.Contains(r.resp.Error, "gzip") {
		t.Errorf("plain body marked gzip: status %d %s, want 400", r.code, r.raw)
	}
	consumeAll(t, c, topics.Events, 25) // nothing more
}

// TestSlowBody408: a client that sends its body too slowly is answered 408
// with a JSON error within the body read timeout, and holds nothing.
func TestSlowBody408(t *testing.T) {
	c, topics := newCluster(t)
	g, srv := newServer(t, c, topics, BodyReadTimeout(300*time.Millisecond))
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	must(t, err)
	defer conn.Close()
	body := events("slow", 2)
	start := time.Now()
	_, err = io.WriteString(conn, "POST "+PathEvents+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "+
		strconv.Itoa(len(body))+"\r\n\r\n"+string(body[:10]))
	must(t, err)
	must(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	must(t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var eb ErrorBody
	if res.StatusCode != http.StatusRequestTimeout || json.Unmarshal(raw, &eb) != nil || !strings.Contains(eb.Error, "body read timeout") ||
		res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d %s, want 408 with a JSON error", res.StatusCode, raw)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("answered after %s", d)
	}
	if n := g.adm.inFlight(); n != 0 {
		t.Fatalf("in flight %d", n)
	}
	// A body that arrives in time is taken.
	if r := post(t, srv.URL, "application/json", body, ""); r.code != http.StatusOK {
		t.Fatalf("status %d %s", r.code, r.raw)
	}
	consumeAll(t, c, topics.Events, 2)
}

// TestBearerToken: the scheme matches whatever its case; tokens of any
// length that differ are refused (compared as SHA-256 digests in constant
// time).
func TestBearerToken(t *testing.T) {
	c, topics := newCluster(t)
	const token = "s3cret-token"
	_, srv := newServer(t, c, topics, Token(token))
	send := func(auth string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+PathEvents, strings.NewReader("[]"))
		must(t, err)
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return do(t, req).code
	}
	for _, auth := range []string{"Bearer " + token, "bearer " + token, "BEARER " + token, "bEaReR   " + token + " "} {
		if code := send(auth); code != http.StatusOK {
			t.Errorf("Authorization %q: %d, want 200", auth, code)
		}
	}
	for _, auth := range []string{"", "Bearer", "Bearer ", "Basic " + token, "Bearer" + token, "Bearer " + token[:5],
		"Bearer " + token + "x", "Bearer " + strings.Repeat("x", 10_000), "Bearer S3cret-token", token} {
		if code := send(auth); code != http.StatusUnauthorized {
			t.Errorf("Authorization %.40q: %d, want 401", auth, code)
		}
	}
}
