package query

import (
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/total"
)

func TestTopN(t *testing.T) {
	f := func(counts map[string]int64, n int, want []keyCount) {
		t.Helper()
		if got := topN(counts, n); !slices.Equal(got, want) {
			t.Fatalf("topN(%v, %d) = %v, want %v", counts, n, got, want)
		}
	}
	f(nil, 3, []keyCount{})
	f(map[string]int64{"a": 1}, 3, []keyCount{{"a", 1}})
	f(map[string]int64{"a": 1, "z": 0}, 3, []keyCount{{"a", 1}})
	f(map[string]int64{"b": 5, "a": 5, "c": 5, "d": 9}, 2, []keyCount{{"d", 9}, {"a", 5}})
	f(map[string]int64{"b": 5, "a": 5, "c": 5, "d": 9}, 3, []keyCount{{"d", 9}, {"a", 5}, {"b", 5}})
	f(map[string]int64{"b": 5, "a": 5, "c": 5, "d": 9}, 10, []keyCount{{"d", 9}, {"a", 5}, {"b", 5}, {"c", 5}})
	// against a full sort
	rng := rand.New(rand.NewPCG(1, 1))
	m := map[string]int64{}
	for i := range 5000 {
		m["k"+strconv.Itoa(i)] = int64(rng.IntN(50))
	}
	var all []keyCount
	for k, c := range m {
		if c > 0 {
			all = append(all, keyCount{k, c})
		}
	}
	slices.SortFunc(all, func(a, b keyCount) int {
		if before(a, b) {
			return -1
		}
		return 1
	})
	for _, n := range []int{1, 7, 100, 1000, 10000} {
		f(m, n, all[:min(n, len(all))])
	}
}

func TestFluxStringLexically(t *testing.T) {
	f := func(in string, wantSplit bool) {
		t.Helper()
		q := influx.FluxString(in)
		split := strings.HasPrefix(q, "(")
		if split {
			q = strings.TrimSuffix(strings.TrimPrefix(q, "("), ")")
		}
		if split != wantSplit {
			t.Fatalf("%q: split %v, want %v: %s", in, split, wantSplit, q)
		}
		// decode: literals joined by " + "; in each, every backslash
		// starts an escape; no bare quote, newline, "${", nor a '$' right
		// before a backslash (Flux's scanner pairs them) may remain.
		var out strings.Builder
		if q == "" || q[0] != '"' {
			t.Fatalf("%q: not quoted: %s", in, q)
		}
		for i := 1; i < len(q); i++ {
			c := q[i]
			switch {
			case c == '\\':
				i++
				switch q[i] {
				case 'n':
					out.WriteByte('\n')
				case 'r':
					out.WriteByte('\r')
				case 't':
					out.WriteByte('\t')
				case '\\', '"', '$':
					out.WriteByte(q[i])
				default:
					t.Fatalf("%q: unknown escape \\%c in %s", in, q[i], q)
				}
			case c == '"':
				if i == len(q)-1 {
					continue
				}
				if !strings.HasPrefix(q[i:], `" + "`) {
					t.Fatalf("%q: bare quote in %s", in, q)
				}
				i += len(`" + `)
			case c == '\n' || c == '\r':
				t.Fatalf("%q: bare %q in %s", in, c, q)
			case c == '$' && i+1 < len(q) && (q[i+1] == '{' || q[i+1] == '\\'):
				t.Fatalf("%q: bare $%c in %s", in, q[i+1], q)
			default:
				out.WriteByte(c)
			}
		}
		if out.String() != in {
			t.Fatalf("%q: decodes to %q (%s)", in, out.String(), q)
		}
	}
	for _, s := range []string{"", "plain", `"`, `\`, `\"`, `"\`, `${x}`, `\${x}`, `$`, `$$`, `a$b`, "a\nb", "\r\n\t",
		`x" or r.key != "`, `") |> drop(columns: ["key"]) //`, `k0\`, "é ✓ \x00 \x7f", `${"${"}`} {
		f(s, false)
	}
	for _, s := range []string{`$${x}`, `$\{`, `$\`, `$"`, "$\n", `$$$\`} {
		f(s, true)
	}
}

func TestFilterParse(t *testing.T) {
	f := func(vals []string, want filter, wantErr bool) {
		t.Helper()
		got, err := parseFilter(vals)
		if (err != nil) != wantErr || !slices.Equal(got, want) {
			t.Fatalf("parseFilter(%q) = %v, %v; want %v (error %v)", vals, got, err, want, wantErr)
		}
	}
	f(nil, nil, false)
	f([]string{"country:US"}, filter{{"country", "US"}}, false)
	f([]string{"device:ios,country:US"}, filter{{"country", "US"}, {"device", "ios"}}, false)
	f([]string{"device:ios", "country:US"}, filter{{"country", "US"}, {"device", "ios"}}, false)
	f([]string{"url:http://x"}, filter{{"url", "http://x"}}, false)
	f([]string{"country"}, nil, true)
	f([]string{"country:US,country:US"}, nil, true)
	f([]string{"country:US,"}, nil, true)
	f([]string{",country:US"}, nil, true)
	f([]string{"country:US", ""}, filter{{"country", "US"}}, false)
	if !(filter{{"country", "US"}}).match([][2]string{{"country", "US"}, {"device", "ios"}}) {
		t.Fatal("no match")
	}
	if (filter{{"country", "US"}, {"device", "tv"}}).match([][2]string{{"country", "US"}, {"device", "ios"}}) {
		t.Fatal("match")
	}
}

// benchServer is a server with keys x windows totals in memory.
func benchServer(b *testing.B, keys, windows int) (*Server, int64) {
	s, err := New(Retention(24 * time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	s.cons = &consumer{ready: make(chan struct{})}
	close(s.cons.ready)
	now := time.Now().UnixMilli()
	cur := total.WindowStart(now, 60_000)
	var ts []total.Total
	for w := range windows {
		for k := range keys {
			c := int64(k%97 + 1)
			dims := []string{"", "country=US", "country=DE,device=ios"}[k%3]
			ts = append(ts, total.Total{Key: "key" + strconv.Itoa(k), Type: "VIEW", DimSet: dims, Start: cur - int64(w)*60_000, Size: 60_000,
				Count: c, Sum: float64(c), Min: 1, Max: 1})
		}
	}
	s.st.apply(ts, s.floor)
	return s, now
}

func benchQuery(b *testing.B, s *Server, urls []string) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r := httptest.NewRequest(http.MethodGet, urls[i%len(urls)], nil)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
			i++
		}
	})
}

func BenchmarkCount(b *testing.B) {
	s, now := benchServer(b, 2000, 60)
	var urls []string
	for k := range 100 {
		urls = append(urls, "/v1/counts/key"+strconv.Itoa(k*7)+"?type=VIEW&from="+strconv.FormatInt(now-30*60_000, 10)+"&to="+strconv.FormatInt(now, 10))
	}
	benchQuery(b, s, urls)
}

func BenchmarkTopCached(b *testing.B) {
	s, now := benchServer(b, 2000, 60)
	benchQuery(b, s, []string{"/v1/top?type=VIEW&n=10&from=" + strconv.FormatInt(now-5*60_000, 10) + "&to=" + strconv.FormatInt(now, 10)})
}

func BenchmarkTopMiss(b *testing.B) {
	s, now := benchServer(b, 2000, 60)
	s.topCache = newLRU[topKey, topEntry](1)
	var urls []string
	for i := range 10 {
		urls = append(urls, "/v1/top?type=VIEW&n=10&from="+strconv.FormatInt(now-5*60_000-int64(i)*60_000, 10)+"&to="+strconv.FormatInt(now, 10))
	}
	benchQuery(b, s, urls)
}

// TestMemTop checks the cached, split (stable + hot windows) in-memory
// top-N against a brute-force merge, through updates of hot and stable
// windows.
func TestMemTop(t *testing.T) {
	now := time.Now()
	s, err := New(Retention(24*time.Hour), Clock(func() time.Time { return now }), Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const size = 60_000
	cur := total.WindowStart(now.UnixMilli(), size)
	rng := rand.New(rand.NewPCG(9, 9))
	dims := []string{"", "country=US", "country=DE,device=ios", "country=US,device=ios"}
	all := map[string]total.Total{}
	put := func(n int, oldest int) {
		var ts []total.Total
		for range n {
			x := total.Total{Key: "k" + strconv.Itoa(rng.IntN(60)), Type: "VIEW", DimSet: dims[rng.IntN(len(dims))], Sub: rng.IntN(2),
				Start: cur - int64(rng.IntN(oldest))*size, Size: size, Count: int64(rng.IntN(20)), Sum: 1, Min: 1, Max: 1}
			ts = append(ts, x)
			all[string(x.RecordKey())] = x
		}
		s.st.apply(ts, s.floor)
	}
	check := func() {
		t.Helper()
		for _, fs := range []string{"", "country:US", "device:ios,country:US"} {
			f, _ := parseFilter([]string{fs})
			for _, sp := range [][2]int64{{cur - 10*size, cur + size}, {cur - 3*size, cur - size}, {cur - size, cur + size}, {cur, cur + size}, {cur - 10*size, cur - 2*size}} {
				want := map[string]int64{}
				for _, x := range all {
					if x.Start >= sp[0] && x.Start < sp[1] && f.match(total.ParseDimSet(x.DimSet)) {
						want[x.Key] += x.Count
					}
				}
				for _, n := range []int{1, 3, 10, 100} {
					c := common{typ: "VIEW", span: span{size: size, wFrom: sp[0], wTo: sp[1]}, filter: f}
					if got, w := s.memTop(c, sp[0], n), topN(want, n); !slices.Equal(got, w) {
						t.Fatalf("filter %q span %v n %d: got %v, want %v", fs, sp, n, got, w)
					}
				}
			}
		}
	}
	put(2000, 12)
	check()
	check()
	for range 5 {
		put(50, 2) // hot windows only
		check()
	}
	put(20, 12) // late updates of stable windows too
	check()
	check()
}

func TestCountJSON(t *testing.T) {
	f := func(r countResponse) {
		t.Helper()
		want, _ := json.Marshal(r)
		if got := r.appendJSON(nil); string(got) != string(want)+"\n" {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
	f(countResponse{Key: "k", Type: "VIEW", Window: "60s", From: 1767225600000, To: 1767225660123, Count: 42, Windows: 2, Aligned: true, Source: "memory"})
	f(countResponse{Key: `q"x\y${z} <a>&b é` + "\n\x00\x7f", Type: "VIEW", Window: "60s", Filter: "country:US", From: 1767225600000, To: 1767225660123, Count: -1, Source: "mixed"})
	f(countResponse{})
}

func TestStatsJSON(t *testing.T) {
	f := func(r statsResponse) {
		t.Helper()
		want, _ := json.Marshal(r)
		if got := r.appendJSON(nil); string(got) != string(want)+"\n" {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
	fl := func(v float64) *float64 { return &v }
	f(statsResponse{Key: "k", Type: "VIEW", Fn: "avg", Window: "60s", From: 1767225600000, To: 1767225660123, Value: fl(2.5), Count: 42, Windows: 2, Aligned: true, Source: "memory"})
	f(statsResponse{Key: `q"x\y <a>&b é` + "\n\x00", Type: "VIEW", Fn: "min", Window: "60s", Filter: "country:US", From: 1767225600000, To: 1767225660123, Count: -1, Source: "mixed"})
	for _, v := range []float64{0, -0.0, 1, -1, 1e20, 1e21, 123456789e15, 1e-6, 9.99e-7, 1e-9, -3.5e-12, 0.1, 1.0 / 3, 5e-324, 1.7976931348623157e308, 12345678.125} {
		f(statsResponse{Fn: "sum", Value: fl(v)})
	}
	f(statsResponse{})
}

func TestTopJSON(t *testing.T) {
	f := func(r topResponse) {
		t.Helper()
		want, _ := json.Marshal(r)
		if got := r.appendJSON(nil); string(got) != string(want)+"\n" {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
	f(topResponse{Type: "VIEW", Window: "60s", From: 1767225600000, To: 1767225660123, N: 10, Items: []keyCount{{"a", 3}, {`<"b">` + "\t", 2}}, Exact: true, Source: "memory"})
	f(topResponse{Type: "VIEW", Window: "60s", Filter: "country:US", From: 1767225600000, To: 1767225660123, N: 1, Items: []keyCount{}, Aligned: true, Source: "influx"})
	f(topResponse{})
}

// TestIncTop checks the incrementally kept unfiltered top-N against a
// brute-force merge through many rounds of growing (the usual case) and
// sometimes shrinking totals, including totals of new keys.
func TestIncTop(t *testing.T) {
	now := time.Now()
	s, err := New(Retention(24*time.Hour), Clock(func() time.Time { return now }), Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const size = 60_000
	cur := total.WindowStart(now.UnixMilli(), size)
	rng := rand.New(rand.NewPCG(5, 6))
	all := map[string]total.Total{}
	put := func(n, keys int, shrink bool) {
		var ts []total.Total
		for range n {
			x := total.Total{Key: "k" + strconv.Itoa(rng.IntN(keys)), Type: "VIEW", DimSet: []string{"", "country=US"}[rng.IntN(2)],
				Sub: rng.IntN(2), Start: cur - int64(rng.IntN(6))*size, Size: size, Sum: 1, Min: 1, Max: 1}
			old := all[string(x.RecordKey())]
			x.Count = old.Count + int64(rng.IntN(5))
			if shrink {
				x.Count = int64(rng.IntN(3))
			}
			ts = append(ts, x)
			all[string(x.RecordKey())] = x
		}
		s.st.apply(ts, s.floor)
	}
	check := func(round int) {
		t.Helper()
		for _, sp := range [][2]int64{{cur - 5*size, cur + size}, {cur - size, cur + size}, {cur - 3*size, cur - size}} {
			want := map[string]int64{}
			for _, x := range all {
				if x.Start >= sp[0] && x.Start < sp[1] {
					want[x.Key] += x.Count
				}
			}
			for _, n := range []int{1, 5, 10} {
				c := common{typ: "VIEW", span: span{size: size, wFrom: sp[0], wTo: sp[1]}}
				if got, w := s.memTop(c, sp[0], n), topN(want, n); !slices.Equal(got, w) {
					t.Fatalf("round %d span %v n %d: got %v, want %v", round, sp, n, got, w)
				}
			}
		}
	}
	check(-1)
	for round := range 300 {
		put(1+rng.IntN(30), 40+round, round%50 == 49)
		check(round)
	}
	value := func(c prometheus.Counter) float64 {
		var m dto.Metric
		c.Write(&m)
		return m.GetCounter().GetValue()
	}
	if inc, full := value(s.m.incUpdates), value(s.m.incFull); inc < 10*full {
		t.Fatalf("%v incremental updates, %v full merges: the incremental path is not taken", inc, full)
	}
}

func TestMsTimeJSON(t *testing.T) {
	f := func(ms int64) {
		t.Helper()
		want := `"` + time.UnixMilli(ms).UTC().Format(time.RFC3339Nano) + `"`
		if got := string(msTime(ms).appendJSON(nil)); got != want {
			t.Fatalf("%d: got %s, want %s", ms, got, want)
		}
	}
	for _, ms := range []int64{0, 1, -1, 1767225600000, 1767225660123, 1767225660100, -62135596800000, 253402300799999} {
		f(ms)
	}
}

// TestParseParams checks the strict query-string scanner against
// url.ParseQuery: it accepts exactly the query strings url.ParseQuery
// parses without error whose names are all read by the endpoint, none but
// filter given twice, and then finds the same values.
func TestParseParams(t *testing.T) {
	f := func(raw string, reads uint8) {
		t.Helper()
		q, err := url.ParseQuery(raw)
		wantErr := err != nil
		for name, vs := range q {
			i := slices.Index(paramNames[:], name)
			wantErr = wantErr || i < 0 || reads&(1<<i) == 0 || (len(vs) > 1 && name != "filter")
		}
		p, bp := parseParams(raw, reads)
		if (bp != nil) != wantErr {
			t.Fatalf("%q (reads %b): error %v, url.ParseQuery %v %q", raw, reads, bp, err, q)
		}
		if bp != nil {
			return
		}
		got := []string{p.typ, p.from, p.to, p.window, p.fn, p.n}
		want := []string{q.Get("type"), q.Get("from"), q.Get("to"), q.Get("window"), q.Get("fn"), q.Get("n")}
		if !slices.Equal(got, want) || !slices.Equal(p.filters, q["filter"]) {
			t.Fatalf("%q: got %q %q, want %q %q", raw, got, p.filters, want, q["filter"])
		}
	}
	const all = pCommon | pFn | pN
	for _, raw := range []string{"", "type=VIEW", "type=VIEW&from=1&to=2&window=1m&fn=avg&n=10",
		"type=VIEW&type=CLICK", "&&type=&type=VIEW", "type", "type=VIEW;x=1&from=3", "ty%70e=VI%45W&from=%2B1+2",
		"type=%zz&type=CLICK", "filter=country:US&filter=device%3Aios&filter=", "filter=a:b;c&n=%", "x=1&fn=a=b", "n=1+1&to=2%",
		"=1", "&&", "fn=sum&fn=sum", "filter=a:b&filter=a:b"} {
		f(raw, all)
		f(raw, pCommon)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	parts := []string{"type", "from", "to", "window", "fn", "n", "filter", "x", "=", "&", ";", "%", "%2", "%41", "+", "VIEW", "1", ":", "é"}
	for range 20_000 {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(parts[rng.IntN(len(parts))])
		}
		f(b.String(), all)
		f(b.String(), pCommon|pN)
	}
}

// TestParseParamsAllocs checks that reading a query string that needs no
// unescaping allocates nothing but the filter slice.
func TestParseParamsAllocs(t *testing.T) {
	for raw, want := range map[string]float64{
		"type=VIEW&from=1795447277000&to=1795447377000&window=1m&fn=avg": 0,
		"type=VIEW&n=10&filter=country:US":                               1,
	} {
		if got := testing.AllocsPerRun(100, func() { parseParams(raw, pCommon|pFn|pN) }); got != want {
			t.Errorf("%q: %v allocations, want %v", raw, got, want)
		}
	}
}

// TestContentLength checks that answers carry a Content-Length through a
// real net/http server, small ones (net/http computes it) and large ones
// (writeBody sets it).
func TestContentLength(t *testing.T) {
	s, err := New(Retention(24*time.Hour), Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.cons = &consumer{ready: make(chan struct{})}
	close(s.cons.ready)
	now := time.Now().UnixMilli()
	var ts []total.Total
	for k := range 300 {
		ts = append(ts, total.Total{Key: "key" + strconv.Itoa(k), Type: "VIEW", Start: total.WindowStart(now, 60_000), Size: 60_000, Count: int64(k + 1), Sum: 1, Min: 1, Max: 1})
	}
	s.st.apply(ts, s.floor)
	hs := httptest.NewServer(s)
	defer hs.Close()
	f := func(path string, big bool) {
		t.Helper()
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v %s", path, resp.StatusCode, err, body)
		}
		if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) > 0 || (len(body) > inlineLength) != big {
			t.Fatalf("%s: Content-Length %d, Transfer-Encoding %v, body %d bytes", path, resp.ContentLength, resp.TransferEncoding, len(body))
		}
	}
	f("/v1/counts/key7?type=VIEW", false)
	f("/v1/stats/key7?type=VIEW&fn=avg", false)
	f("/v1/top?type=VIEW&n=3", false)
	f("/v1/top?type=VIEW&n=300", true)
}
