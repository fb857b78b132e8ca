package query_test

import (
	"context"
	"encoding/json"
	"net/url"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/engine/total"
)

// answer is the union of the fields of the counts, stats and top answers.
type answer struct {
	Count   int64            `json:"count"`
	Value   *float64         `json:"value"`
	Windows int64            `json:"windows"`
	Items   []client.TopItem `json:"items"`
	From    time.Time        `json:"from"`
	To      time.Time        `json:"to"`
	Source  string           `json:"source"`
}

// getAnswer GETs base+path and decodes a 200 answer.
func getAnswer(t *testing.T, base, path string) answer {
	t.Helper()
	body := get(t, base+path, "")
	var a answer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
	return a
}

func ptr(v *float64) string {
	if v == nil {
		return "null"
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}

// TestBeforeEpoch checks that a range ending at or before 1970-01-01 is
// answered with zeros by counts, stats and top (no window before the epoch
// holds anything: the ingest refuses ts <= 0), through the real HTTP
// server over the real influxd and kfake, and that a range straddling the
// epoch counts only the windows from the epoch on. Regression (F6): such a
// range was sent to InfluxDB as a Flux range before 1970 and answered
// all-time totals.
func TestBeforeEpoch(t *testing.T) {
	isrv := startInflux(t)
	conn, topics := startKafka(t)
	iconf := isrv.Config()
	now := time.Now()
	old := total.WindowStart(now.UnixMilli()-3*3600_000, size)
	recent := total.WindowStart(now.UnixMilli()-10*60_000, size)
	var ts []total.Total
	for i, start := range []int64{0, size, old, recent} { // window 0 holds events of ts in (0, 60 s)
		ts = append(ts, total.Total{Key: "k", Type: "VIEW", Start: start, Size: size, Count: int64(1 + i), Sum: float64(10 * (1 + i)), Min: 1, Max: 10, Closed: true})
	}
	p := newProducer(t, conn, topics.Aggregates)
	p.txn(true, ts...)
	writeInflux(t, iconf, ts...)
	srv, _, base := serve(t, query.Kafka(conn), query.Topic(topics.Aggregates), query.Influx(iconf),
		query.Retention(time.Hour), query.Clock(func() time.Time { return now }), query.InfluxTimeout(15*time.Second),
		query.MaxRange(100*365*24*time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	// Every total is visible where it is (the checks below are not vacuous).
	if a := getAnswer(t, base, "/v1/counts/k?type=VIEW&from=0&to="+url.QueryEscape(now.UTC().Format(time.RFC3339))); a.Count != 1+2+3+4 {
		t.Fatalf("all windows: %+v, want count 10", a)
	}
	// Without Kafka every range goes to InfluxDB, and without InfluxDB it
	// is a 503: neither for a range before the epoch.
	_, _, ibase := serve(t, query.Influx(iconf), query.Logger(discardLogger()))
	_, _, nbase := serve(t, query.Logger(discardLogger()))
	for _, b := range []string{ibase, nbase} {
		if a := getAnswer(t, b, "/v1/counts/k?type=VIEW&from=-600000&to=-540000"); a.Count != 0 {
			t.Errorf("%s: counts before the epoch: %+v, want 0", b, a)
		}
		if a := getAnswer(t, b, "/v1/top?type=VIEW&from=-600000&to=-540000"); a.Items == nil || len(a.Items) != 0 {
			t.Errorf("%s: top before the epoch: %+v, want no items", b, a.Items)
		}
	}
	if a := getAnswer(t, ibase, "/v1/counts/k?type=VIEW&from=-60000&to=60000"); a.Count != 1 || a.Source != "influx" {
		t.Errorf("influx only: counts straddling the epoch: %+v, want 1", a)
	}
	for _, r := range []struct{ from, to string }{
		{"-600000", "-540000"},
		{"-600000", "0"},
		{"-86400000", "-1"},
		{"1969-12-31T23:50:00Z", "1969-12-31T23:51:00Z"},
		{"1969-07-20T20:17:40Z", "1969-07-21T20:17:40Z"},
		{"1969-12-31T23:59:00Z", "1970-01-01T00:00:00Z"},
		{"1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00Z"},
	} {
		q := "?type=VIEW&from=" + url.QueryEscape(r.from) + "&to=" + url.QueryEscape(r.to)
		if a := getAnswer(t, base, "/v1/counts/k"+q); a.Count != 0 || a.Windows == 0 || a.To.UnixMilli() > 0 {
			t.Errorf("counts %s..%s: %+v, want count 0", r.from, r.to, a)
		}
		for _, fn := range []string{"count", "sum", "avg", "min", "max"} {
			a := getAnswer(t, base, "/v1/stats/k"+q+"&fn="+fn)
			want := map[string]*float64{"count": new(0.0), "sum": new(0.0)}[fn] // avg, min, max of nothing: null
			if a.Count != 0 || !reflect.DeepEqual(a.Value, want) {
				t.Errorf("stats %s %s..%s: count %d value %s, want count 0 value %s", fn, r.from, r.to, a.Count, ptr(a.Value), ptr(want))
			}
		}
		if a := getAnswer(t, base, "/v1/top"+q+"&n=5"); a.Items == nil || len(a.Items) != 0 {
			t.Errorf("top %s..%s: %+v, want no items", r.from, r.to, a.Items)
		}
	}
	// Straddling the epoch: only the windows from 0 on count.
	for _, r := range []struct {
		from, to string
		want     int64
	}{{"-60000", "60000", 1}, {"-600000", "120000", 3}, {"1969-12-31T23:00:00Z", "1970-01-01T00:01:00.001Z", 3}} {
		q := "?type=VIEW&from=" + url.QueryEscape(r.from) + "&to=" + url.QueryEscape(r.to)
		if a := getAnswer(t, base, "/v1/counts/k"+q); a.Count != r.want {
			t.Errorf("counts %s..%s: %+v, want count %d", r.from, r.to, a, r.want)
		}
		if a := getAnswer(t, base, "/v1/stats/k"+q+"&fn=sum"); a.Value == nil || *a.Value != float64(10*r.want) {
			t.Errorf("stats sum %s..%s: %+v, want %d", r.from, r.to, a, 10*r.want)
		}
		if a := getAnswer(t, base, "/v1/top"+q); !reflect.DeepEqual(a.Items, []client.TopItem{{Key: "k", Count: r.want}}) {
			t.Errorf("top %s..%s: %+v, want k %d", r.from, r.to, a.Items, r.want)
		}
	}
}
