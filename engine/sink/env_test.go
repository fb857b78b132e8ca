package sink_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/influxd"
	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/reconcile"
	"github.com/countlab/countlab/engine/total"
)

const partitions = 3

var shared struct {
	once sync.Once
	srv  *influxd.Server
	err  error
	n    atomic.Int64
}

// TestMain stops the shared influxd after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	os.Exit(code)
}

// sharedInflux is one influxd for the tests that do not kill it, with a
// fresh database per call (bucket "<db>/autogen"): starting a server per
// test is slow on a loaded machine. It skips like influxdtest.Start.
func sharedInflux(t testing.TB) (*influxd.Server, influx.Config) {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.srv, shared.err = influxd.Start(ctx, influxd.StartTimeout(2*time.Minute))
	})
	if errors.Is(shared.err, influxd.ErrNoBinary) && os.Getenv(influxdtest.EnvRequire) != "1" {
		t.Skipf("skipping: %v (set %s=1 to make this a failure)", shared.err, influxdtest.EnvRequire)
	}
	if shared.err != nil {
		t.Fatalf("start influxd: %v", shared.err)
	}
	db := fmt.Sprintf("test%d", shared.n.Add(1))
	influxQL(t, shared.srv.URL(), "CREATE DATABASE "+db)
	ic := shared.srv.Config()
	ic.Bucket = db + "/autogen"
	return shared.srv, ic
}

// newKafka starts an in-process kfake cluster with countlab's topics.
func newKafka(t testing.TB) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, cl, kafka.DefaultTopics(""), partitions, -1); err != nil {
		t.Fatal(err)
	}
	return addrs
}

// txnProducer produces totals to the aggregates topic in transactions,
// each to partition Sub, as the aggregator does.
type txnProducer struct {
	t  testing.TB
	cl *kgo.Client
}

func newTxnProducer(t testing.TB, addrs []string, id string) *txnProducer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...),
		kgo.TransactionalID(id),
		kgo.DefaultProduceTopic("aggregates"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(30*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &txnProducer{t: t, cl: cl}
}

// txn produces ts in one transaction and commits it, or aborts it.
func (p *txnProducer) txn(ctx context.Context, ts []total.Total, commit bool) error {
	if err := p.cl.BeginTransaction(); err != nil {
		return err
	}
	for i := range ts {
		v, err := ts[i].Marshal()
		if err != nil {
			return err
		}
		p.cl.Produce(ctx, &kgo.Record{Key: ts[i].RecordKey(), Value: v, Partition: int32(ts[i].Sub)}, nil)
	}
	if !commit {
		if err := p.cl.AbortBufferedRecords(ctx); err != nil {
			return err
		}
		return p.cl.EndTransaction(ctx, kgo.TryAbort)
	}
	if err := p.cl.Flush(ctx); err != nil {
		return err
	}
	return p.cl.EndTransaction(ctx, kgo.TryCommit)
}

// stored reads every window_total point since 2002 back with Flux.
func stored(t testing.TB, ic influx.Config) map[string]*total.Total {
	t.Helper()
	return storedSince(t, ic, time.Date(2002, 1, 1, 0, 0, 0, 0, time.UTC))
}

// storedSince reads every window_total point since from back with Flux.
func storedSince(t testing.TB, ic influx.Config, from time.Time) map[string]*total.Total {
	t.Helper()
	c := influxdb2.NewClient(ic.URL, ic.Token)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := reconcile.Stored(ctx, c.QueryAPI(ic.Org), ic.Bucket, from, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), nil)
	if err != nil {
		t.Fatalf("read InfluxDB: %v", err)
	}
	return m
}

// diff describes how InfluxDB's content differs from want ("" when equal).
func diff(got map[string]*total.Total, want map[string]total.Total) string {
	var out []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			out = append(out, "missing "+k)
		case g.Count != w.Count || g.Sum != w.Sum || g.Min != w.Min || g.Max != w.Max:
			out = append(out, fmt.Sprintf("%s: got %d/%v/%v/%v want %d/%v/%v/%v", k, g.Count, g.Sum, g.Min, g.Max, w.Count, w.Sum, w.Min, w.Max))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, "unexpected "+k)
		}
	}
	slices.Sort(out)
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("... %d differences in all", len(out)))
	}
	return strings.Join(out, "\n")
}

// waitEqual waits until InfluxDB holds exactly want.
func waitEqual(t testing.TB, ic influx.Config, want map[string]total.Total, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		d := diff(stored(t, ic), want)
		if d == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("InfluxDB content not as expected after %s:\n%s", within, d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// metric is the value of the named counter or gauge (with label to=to when
// to is not "") in reg.
func metric(t testing.TB, reg *prometheus.Registry, name, to string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if to != "" {
				ok := false
				for _, l := range m.GetLabel() {
					ok = ok || (l.GetName() == "to" && l.GetValue() == to)
				}
				if !ok {
					continue
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no metric %s %s", name, to)
	return 0
}

// influxQL runs an InfluxQL statement on a 1.8 server (test setup only:
// the field type conflict and dropping its shard have no v2 API).
func influxQL(t testing.TB, base, q string) map[string]any {
	t.Helper()
	resp, err := http.PostForm(base+"/query", url.Values{"q": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s %s", q, resp.Status, b)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeLine writes one line of line protocol with the 1.8 write endpoint
// (ms precision), for setting up a conflict the sink must meet.
func writeLine(t testing.TB, base, db, line string) {
	t.Helper()
	resp, err := http.Post(base+"/write?precision=ms&db="+url.QueryEscape(db), "text/plain", strings.NewReader(line))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("write %q: %s %s", line, resp.Status, b)
	}
}

// dropShard2001 drops db's shards that start before 2002.
func dropShard2001(t testing.TB, base, db string) {
	t.Helper()
	out := influxQL(t, base, "SHOW SHARDS")
	b, _ := json.Marshal(out)
	var r struct {
		Results []struct {
			Series []struct {
				Name    string   `json:"name"`
				Columns []string `json:"columns"`
				Values  [][]any  `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for _, res := range r.Results {
		for _, s := range res.Series {
			if s.Name != db {
				continue
			}
			id, start := slices.Index(s.Columns, "id"), slices.Index(s.Columns, "start_time")
			for _, v := range s.Values {
				if st, _ := v[start].(string); strings.HasPrefix(st, "2000") || strings.HasPrefix(st, "2001") {
					influxQL(t, base, fmt.Sprintf("DROP SHARD %v", v[id]))
					dropped++
				}
			}
		}
	}
	if dropped == 0 {
		t.Fatalf("no 2001 shard in %s", b)
	}
}
