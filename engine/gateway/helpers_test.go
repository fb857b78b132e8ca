package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testPartitions is the partition count of the test topics.
const testPartitions = 8

// testTS is the event time of the tests' events, unix ms: ten minutes ago,
// within the validator's bounds around the receive time.
var testTS = time.Now().Add(-10 * time.Minute).UnixMilli()

// newCluster starts an in-process kfake cluster of 3 brokers on 127.0.0.1
// with countlab's topics created by kafka.EnsureTopics.
func newCluster(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, kafka.Topics) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(3)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics := kafka.DefaultTopics("t-")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, cl, topics, testPartitions, -1); err != nil {
		t.Fatal(err)
	}
	return c, topics
}

// newServer serves a gateway for cluster c on an httptest server.
func newServer(t testing.TB, c *kfake.Cluster, topics kafka.Topics, opts ...Opt) (*Gateway, *httptest.Server) {
	t.Helper()
	all := append([]Opt{Kafka(kafka.Conn{Brokers: c.ListenAddrs()}), Topics(topics)}, opts...)
	g, err := New(all...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		srv.Close()
		if err := g.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return g, srv
}

// reply is a decoded answer.
type reply struct {
	code   int
	header http.Header
	raw    []byte
	resp   Response // the Response fields, when the body has them
}

// post sends body to POST /v1/events and decodes the JSON answer, failing
// the test if the answer is not JSON.
func post(t testing.TB, url, contentType string, body []byte, token string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+PathEvents, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) reply {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{code: res.StatusCode, header: res.Header, raw: raw}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: answer %d has Content-Type %q, want application/json: %s", req.Method, req.URL.Path, r.code, ct, raw)
	}
	if err := json.Unmarshal(raw, &r.resp); err != nil {
		t.Fatalf("%s %s: answer %d is not JSON: %v: %s", req.Method, req.URL.Path, r.code, err, raw)
	}
	return r
}

// testEvent is one event as the tests build it, independently of the
// event package's encoder.
type testEvent struct {
	id, key, typ string
	value        float64
	ts           int64
	country      string // the one dimension; "" for none
}

// json is the event as a JSON object, ts as unix milliseconds.
func (e testEvent) json() string {
	s := `{"id":` + strconv.Quote(e.id) + `,"key":` + strconv.Quote(e.key) + `,"type":` + strconv.Quote(e.typ) +
		`,"value":` + strconv.FormatFloat(e.value, 'g', -1, 64) + `,"ts":` + strconv.FormatInt(e.ts, 10)
	if e.country != "" {
		s += `,"dims":{"country":` + strconv.Quote(e.country) + `}`
	}
	return s + "}"
}

// jsonArray joins elements into a JSON array.
func jsonArray(elems []string) []byte {
	return []byte("[" + strings.Join(elems, ",\n ") + "]")
}

// consumeAll reads topic from the start until want records arrived, then
// checks that the topic holds exactly want records (sum of end offsets).
// want -1 reads whatever the topic holds now.
func consumeAll(t testing.TB, c *kfake.Cluster, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	endOffsets := func() int {
		t.Helper()
		ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
		return int(total)
	}
	if want < 0 {
		want = endOffsets()
	}
	var recs []*kgo.Record
	for len(recs) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("topic %s: got %d records, want %d (timed out)", topic, len(recs), want)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		recs = append(recs, fs.Records()...)
	}
	if total := endOffsets(); total != want || len(recs) != want {
		t.Fatalf("topic %s holds %d records (consumed %d), want exactly %d", topic, total, len(recs), want)
	}
	return recs
}

// wantPartition is the partition Kafka's default (murmur2) partitioner
// picks for key among n partitions, computed with kgo's partitioner.
func wantPartition(topic string, key []byte, n int) int32 {
	p := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	return int32(p.Partition(&kgo.Record{Key: key}, n))
}

func header(r *kgo.Record, key string) string { return kafka.Header(r, key) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func kafkaConn(brokers ...string) kafka.Conn { return kafka.Conn{Brokers: brokers} }
