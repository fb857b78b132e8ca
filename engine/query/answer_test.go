package query

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
	f := func(in string) {
		t.Helper()
		q := FluxString(in)
		body := q[1 : len(q)-1]
		if q[0] != '"' || q[len(q)-1] != '"' {
			t.Fatalf("%q: not quoted: %s", in, q)
		}
		// decode: every backslash starts an escape; no bare quote, newline
		// or "${" may remain.
		var out strings.Builder
		for i := 0; i < len(body); i++ {
			c := body[i]
			switch {
			case c == '\\':
				i++
				switch body[i] {
				case 'n':
					out.WriteByte('\n')
				case 'r':
					out.WriteByte('\r')
				case 't':
					out.WriteByte('\t')
				case '\\', '"', '$':
					out.WriteByte(body[i])
				default:
					t.Fatalf("%q: unknown escape \\%c in %s", in, body[i], q)
				}
			case c == '"' || c == '\n' || c == '\r':
				t.Fatalf("%q: bare %q in %s", in, c, q)
			case c == '$' && i+1 < len(body) && body[i+1] == '{':
				t.Fatalf("%q: bare ${ in %s", in, q)
			default:
				out.WriteByte(c)
			}
		}
		if out.String() != in {
			t.Fatalf("%q: decodes to %q", in, out.String())
		}
	}
	for _, s := range []string{"", "plain", `"`, `\`, `\"`, `"\`, `${x}`, `$${x}`, `\${x}`, `$`, `$\{`, "a\nb", "\r\n\t",
		`x" or r.key != "`, `") |> drop(columns: ["key"]) //`, `k0\`, "é ✓ \x00 \x7f", `${"${"}`} {
		f(s)
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
	s.topCache = newLRU[topEntry](1)
	var urls []string
	for i := range 10 {
		urls = append(urls, "/v1/top?type=VIEW&n=10&from="+strconv.FormatInt(now-5*60_000-int64(i)*60_000, 10)+"&to="+strconv.FormatInt(now, 10))
	}
	benchQuery(b, s, urls)
}
