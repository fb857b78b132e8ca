package gateway

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/enrich"
)

func postMetadata(t *testing.T, url, body, token string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+PathMetadata, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

// TestMetadataEndpoint: a valid batch is stored (one record per version,
// key ENTITY@EFFECTIVE_MS, canonical JSON) before the 200; an invalid
// batch answers 400 naming the record and the field, and nothing of it
// is stored; a wrong token 401; GET 405.
func TestMetadataEndpoint(t *testing.T) {
	c, topics := newCluster(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const topic = "t-metadata"
	if err := enrich.EnsureTopics(ctx, cl, topic, "t-attr-aggregates", 1, testPartitions); err != nil {
		t.Fatal(err)
	}
	_, srv := newServer(t, c, topics, MetadataTopic(topic), Token("s3cret"))

	bad := postMetadata(t, srv.URL, `[{"entity":"v1","ts":1,"attrs":{"channel":"a"}},{"entity":"v2","ts":1,"attrs":{"Channel":"b"}}]`, "s3cret")
	if bad.code != http.StatusBadRequest || !strings.Contains(string(bad.raw), "record 1") || !strings.Contains(string(bad.raw), "Channel") {
		t.Fatalf("invalid batch: %d %s", bad.code, bad.raw)
	}
	if r := postMetadata(t, srv.URL, `{"entity":"v1","ts":1,"attrs":{"channel":"a"}}`, "wrong"); r.code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d %s", r.code, r.raw)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+PathMetadata, nil)
	if r := do(t, req); r.code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", r.code)
	}
	ok := postMetadata(t, srv.URL, `[{"entity":"v1","ts":"2026-12-01T12:00:00Z","attrs":{"channel":"a","title":"T"}},{"entity":"v1","ts":1796126460000,"attrs":{"channel":"b"}}]`, "s3cret")
	if ok.code != http.StatusOK || !strings.Contains(string(ok.raw), `"accepted":2`) {
		t.Fatalf("valid batch: %d %s", ok.code, ok.raw)
	}
	// The topic holds exactly the two versions, in order.
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	if n != 2 {
		t.Fatalf("%d records stored, want 2", n)
	}
	rc, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var keys []string
	for len(keys) < 2 {
		fs := rc.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			keys = append(keys, string(r.Key))
			if _, err := enrich.ParseRecord(r.Value); err != nil {
				t.Errorf("stored value %s: %v", r.Value, err)
			}
		})
	}
	if keys[0] != "v1@1796126400000" || keys[1] != "v1@1796126460000" {
		t.Fatalf("keys %v", keys)
	}
}
