package query

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/total"
)

// maxKeyLen bounds a counted key in a path.
const maxKeyLen = 1024

// badParam is a 400 answer naming the parameter at fault.
type badParam struct {
	param string
	msg   string
}

func (e *badParam) Error() string { return e.param + ": " + e.msg }

func bad(param, msg string) *badParam { return &badParam{param, msg} }

// filter is a conjunction of dimension name=value pairs, sorted by name.
type filter [][2]string

// match reports whether the dimension set pairs holds every pair of f.
func (f filter) match(pairs [][2]string) bool {
	for _, want := range f {
		ok := false
		for _, p := range pairs {
			if p == want {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// String is the canonical text of f, "country:US,device:ios".
func (f filter) String() string {
	var b strings.Builder
	for i, p := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p[0])
		b.WriteByte(':')
		b.WriteString(p[1])
	}
	return b.String()
}

// parseFilter parses "name:value[,name:value...]" (several filter
// parameters are joined). Names may not hold ':' or ','; values may not
// hold ','. Anything else is accepted: a name or value no dimension set
// holds matches nothing.
func parseFilter(vals []string) (filter, *badParam) {
	var f filter
	for _, v := range vals {
		if v == "" {
			continue
		}
		for rest, more := v, true; more; { // strings.Split(v, ","), without the slice
			var item string
			item, rest, more = strings.Cut(rest, ",")
			name, value, ok := strings.Cut(item, ":")
			switch {
			case !ok:
				return nil, bad("filter", "want name:value, got "+strconv.Quote(item))
			case name == "" || value == "":
				return nil, bad("filter", "empty dimension name or value in "+strconv.Quote(item))
			case !fluxNameOK(name):
				return nil, bad("filter", "unsupported dimension name "+strconv.Quote(name)+" ('$' before '\\', '\"' or a control character)")
			case !utf8.ValidString(item):
				return nil, bad("filter", "not UTF-8")
			}
			f = append(f, [2]string{name, value})
		}
	}
	slices.SortFunc(f, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	for i := 1; i < len(f); i++ {
		if f[i][0] == f[i-1][0] {
			return nil, bad("filter", "dimension "+strconv.Quote(f[i][0])+" given twice")
		}
	}
	return f, nil
}

// span is a query's time range, asked and effective (whole windows).
type span struct {
	size     int64 // window size, ms
	from, to int64 // asked, ms
	wFrom    int64 // WindowStart(from)
	wTo      int64 // WindowStart(to-1)+size
}

func (s span) aligned() bool  { return s.from == s.wFrom && s.to == s.wTo }
func (s span) windows() int64 { return (s.wTo - s.wFrom) / s.size }

// common holds the parameters every query shares.
type common struct {
	typ    string
	span   span
	filter filter
}

// params are the query parameters the API reads, found in the raw query
// string without building url.Values: a value is the first one given, as
// url.Values.Get has it, and unescaped (allocating) only when it holds
// '%' or '+'. Pairs url.ParseQuery skips (a ';', a bad escape) are
// skipped.
type params struct {
	typ, from, to, window, fn, n string
	filters                      []string // every filter parameter, in order
	seen                         uint8    // bit per field above: already set
}

// parseParams reads the raw query string.
func parseParams(raw string) params {
	var p params
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		if needsUnescape(name) {
			var err error
			if name, err = url.QueryUnescape(name); err != nil {
				continue
			}
		}
		var dst *string
		var bit uint8
		switch name {
		case "type":
			dst, bit = &p.typ, 1
		case "from":
			dst, bit = &p.from, 2
		case "to":
			dst, bit = &p.to, 4
		case "window":
			dst, bit = &p.window, 8
		case "fn":
			dst, bit = &p.fn, 16
		case "n":
			dst, bit = &p.n, 32
		case "filter":
		default:
			continue // a parameter the API does not read
		}
		if needsUnescape(value) {
			var err error
			if value, err = url.QueryUnescape(value); err != nil {
				continue
			}
		}
		switch {
		case dst == nil:
			p.filters = append(p.filters, value)
		case p.seen&bit == 0:
			*dst = value
			p.seen |= bit
		}
	}
	return p
}

func needsUnescape(s string) bool { return strings.ContainsAny(s, "%+") }

// parseCommon parses type, from, to, window and filter.
func (s *Server) parseCommon(q *params) (common, *badParam) {
	var c common
	c.typ = q.typ
	if c.typ == "" {
		return c, bad("type", "missing (one of "+strings.Join(s.cfg.types, ", ")+")")
	}
	if !slices.Contains(s.cfg.types, c.typ) {
		return c, bad("type", "unknown type "+strconv.Quote(c.typ)+" (one of "+strings.Join(s.cfg.types, ", ")+")")
	}
	size := s.cfg.windows[0]
	if w := q.window; w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || !slices.Contains(s.cfg.windows, d) {
			return c, bad("window", "unknown window size "+strconv.Quote(w)+" (one of "+s.windowNames()+")")
		}
		size = d
	}
	sp := span{size: size.Milliseconds()}
	now := s.cfg.now().UnixMilli()
	var err *badParam
	sp.to, err = parseTime("to", q.to, now)
	if err != nil {
		return c, err
	}
	sp.from, err = parseTime("from", q.from, sp.to-DefaultRange.Milliseconds())
	if err != nil {
		return c, err
	}
	if sp.from >= sp.to {
		return c, bad("from", "from must be before to")
	}
	if sp.to-sp.from > s.cfg.maxRange.Milliseconds() {
		return c, bad("from", "range longer than the maximum "+s.cfg.maxRange.String())
	}
	sp.wFrom = total.WindowStart(sp.from, sp.size)
	sp.wTo = total.WindowStart(sp.to-1, sp.size) + sp.size
	c.span = sp
	c.filter, err = parseFilter(q.filters)
	return c, err
}

// parseTime parses RFC 3339 or unix milliseconds; "" is def.
func parseTime(param, v string, def int64) (int64, *badParam) {
	if v == "" {
		return def, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < -1<<50 || n > 1<<50 {
			return 0, bad(param, "unix milliseconds out of range")
		}
		return n, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return 0, bad(param, "want RFC 3339 or unix milliseconds, got "+strconv.Quote(v))
	}
	return t.UnixMilli(), nil
}

// pathKey unescapes the key after prefix in the request path.
func pathKey(u *url.URL, prefix string) (string, *badParam) {
	raw := strings.TrimPrefix(u.EscapedPath(), prefix)
	key, err := url.PathUnescape(raw)
	switch {
	case err != nil:
		return "", bad("key", "bad escape in key")
	case key == "":
		return "", bad("key", "missing key")
	case len(key) > maxKeyLen:
		return "", bad("key", "key longer than "+strconv.Itoa(maxKeyLen)+" bytes")
	case !utf8.ValidString(key):
		return "", bad("key", "key is not UTF-8")
	}
	return key, nil
}

// sizeName is total.SizeName(size) for a configured window size, without
// allocating.
func (s *Server) sizeName(size int64) string {
	for i, w := range s.cfg.windows {
		if w.Milliseconds() == size {
			return s.sizeNames[i]
		}
	}
	return total.SizeName(size)
}

func (s *Server) windowNames() string {
	names := make([]string, len(s.cfg.windows))
	for i, w := range s.cfg.windows {
		names[i] = w.String()
	}
	return strings.Join(names, ", ")
}

func fluxNameOK(name string) bool {
	if strings.IndexByte(name, '$') < 0 {
		return true // only a '$' before an escaped character needs a split literal
	}
	_, ok := influx.FluxName(influx.DimTagPrefix + name)
	return ok
}
