package query_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/influxd"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/engine/total"
)

const partitions = 3

// startKafka starts an in-process kfake cluster with countlab's topics.
func startKafka(t *testing.T) (kafka.Conn, kafka.Topics) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	conn := kafka.Conn{Brokers: c.ListenAddrs()}
	topics := kafka.DefaultTopics("t-")
	opts, _ := conn.Opts()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, cl, topics, partitions, -1); err != nil {
		t.Fatal(err)
	}
	return conn, topics
}

// startInflux starts the real influxd, or skips without the binary (fails
// with COUNTLAB_REQUIRE_INFLUXD=1).
func startInflux(t *testing.T) *influxd.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := influxd.Start(ctx)
	if errors.Is(err, influxd.ErrNoBinary) && os.Getenv("COUNTLAB_REQUIRE_INFLUXD") != "1" {
		t.Skipf("influxd binary not found (run `make influxd`): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv
}

// producer is a transactional producer of totals to the aggregates topic,
// each to partition Sub as the aggregator does.
type producer struct {
	t  *testing.T
	cl *kgo.Client
}

func newProducer(t *testing.T, conn kafka.Conn, topic string) *producer {
	t.Helper()
	opts, _ := conn.Opts()
	opts = append(opts,
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID("query-test-"+strconv.FormatInt(time.Now().UnixNano(), 36)),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &producer{t, cl}
}

// txn produces ts in one transaction, committed or aborted.
func (p *producer) txn(commit bool, ts ...total.Total) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.cl.BeginTransaction(); err != nil {
		p.t.Fatal(err)
	}
	rs := make([]*kgo.Record, len(ts))
	for i := range ts {
		v, err := ts[i].Marshal()
		if err != nil {
			p.t.Fatal(err)
		}
		rs[i] = &kgo.Record{Key: ts[i].RecordKey(), Value: v, Partition: int32(ts[i].Sub % partitions)}
	}
	if err := p.cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		p.t.Fatal(err)
	}
	if err := p.cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		p.t.Fatal(err)
	}
}

// writeInflux writes ts as points following the schema of engine/influx.
func writeInflux(t *testing.T, conf influx.Config, ts ...total.Total) {
	t.Helper()
	cl := influxdb2.NewClient(conf.URL, conf.Token)
	defer cl.Close()
	w := cl.WriteAPIBlocking(conf.Org, conf.Bucket)
	pts := make([]*write.Point, 0, len(ts))
	for _, x := range ts {
		tags := map[string]string{influx.TagKey: x.Key, influx.TagType: x.Type, influx.TagWindow: total.SizeName(x.Size)}
		if x.DimSet != "" {
			tags[influx.TagDims] = x.DimSet
		}
		if x.Sub != 0 {
			tags[influx.TagSub] = strconv.Itoa(x.Sub)
		}
		for _, p := range total.ParseDimSet(x.DimSet) {
			tags[influx.DimTagPrefix+p[0]] = p[1]
		}
		fields := map[string]any{influx.FieldCount: x.Count, influx.FieldSum: x.Sum, influx.FieldMin: x.Min, influx.FieldMax: x.Max}
		pts = append(pts, influxdb2.NewPoint(influx.Measurement, tags, fields, x.WindowTime()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.WritePoint(ctx, pts...); err != nil {
		t.Fatal(err)
	}
}

// truth is the independently kept final total of every series.
type truth map[string]total.Total

func (tr truth) add(ts ...total.Total) {
	for _, x := range ts {
		tr[string(x.RecordKey())] = x
	}
}

// sum is the truth for (typ, key) over [from, to) windows with filter.
func (tr truth) sum(size int64, typ, key string, from, to int64, filter map[string]string) total.Total {
	var out total.Total
	for _, x := range tr {
		if x.Size == size && x.Type == typ && x.Key == key && x.Start >= from && x.Start < to && hasDims(x.DimSet, filter) {
			out.Merge(x)
		}
	}
	return out
}

func (tr truth) top(size int64, typ string, from, to int64, filter map[string]string, n int) []client.TopItem {
	counts := map[string]int64{}
	for _, x := range tr {
		if x.Size == size && x.Type == typ && x.Start >= from && x.Start < to && hasDims(x.DimSet, filter) {
			counts[x.Key] += x.Count
		}
	}
	var items []client.TopItem
	for k, c := range counts {
		if c > 0 {
			items = append(items, client.TopItem{Key: k, Count: c})
		}
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].Count != items[j].Count {
			return items[i].Count > items[j].Count
		}
		return items[i].Key < items[j].Key
	})
	if len(items) > n {
		items = items[:n]
	}
	return items
}

func hasDims(dimSet string, filter map[string]string) bool {
	have := map[string]string{}
	for _, p := range strings.Split(dimSet, ",") {
		if n, v, ok := strings.Cut(p, "="); ok {
			have[n] = v
		}
	}
	for n, v := range filter {
		if w, ok := have[n]; !ok || w != v {
			return false
		}
	}
	return true
}

// serve runs a query server behind a real HTTP listener and returns its
// client.
func serve(t *testing.T, opts ...query.Opt) (*query.Server, *client.Client, string) {
	t.Helper()
	s, err := query.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { hs.Close(); s.Close() })
	c, err := client.New(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	return s, c, hs.URL
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
