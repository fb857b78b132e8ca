package query

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/total"
)

// maxKeyLen bounds a counted key in a path: the ingest's bound
// (engine/event.DefaultMaxKeyLen; the tests hold them equal), so every key
// the gateway accepts can be asked for and no longer one is looked up.
const maxKeyLen = 256

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
	auto   bool // window=auto: planned over the granularities (rollup.go)
}

// params are the query parameters the API reads, found in the raw query
// string without building url.Values, and unescaped (allocating) only when
// they hold '%' or '+'. The query string is read strictly: a parameter the
// endpoint does not read, one given twice (filter excepted: its pairs are
// joined), an empty name, a ';' (url.ParseQuery's refused separator) or a
// bad escape is a 400 naming the parameter, never skipped.
type params struct {
	typ, from, to, window, fn, n string
	filters                      []string // every filter parameter, in order
	seen                         uint8    // bit per field above: already set
}

// Parameter bits: which parameters an endpoint reads (and params.seen).
const (
	pType uint8 = 1 << iota
	pFrom
	pTo
	pWindow
	pFn
	pN
	pFilter

	pCommon = pType | pFrom | pTo | pWindow | pFilter
)

// paramNames are the names of the parameter bits, in bit order.
var paramNames = [...]string{"type", "from", "to", "window", "fn", "n", "filter"}

// parseParams reads the raw query string of an endpoint reading the
// parameters of the bits in reads.
func parseParams(raw string, reads uint8) (params, *badParam) {
	var p params
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		if needsUnescape(name) {
			n, err := url.QueryUnescape(name)
			if err != nil {
				return p, bad(name, "bad escape in parameter name "+strconv.Quote(name))
			}
			name = n
		}
		if strings.IndexByte(pair, ';') >= 0 {
			return p, bad(name, "';' in "+strconv.Quote(pair)+" is not a separator: use '&' (or %3B for a ';' in a value)")
		}
		var dst *string
		var bit uint8
		switch name {
		case "type":
			dst, bit = &p.typ, pType
		case "from":
			dst, bit = &p.from, pFrom
		case "to":
			dst, bit = &p.to, pTo
		case "window":
			dst, bit = &p.window, pWindow
		case "fn":
			dst, bit = &p.fn, pFn
		case "n":
			dst, bit = &p.n, pN
		case "filter":
			bit = pFilter
		case "":
			return p, bad("", "empty parameter name in "+strconv.Quote(pair))
		}
		switch {
		case reads&bit == 0:
			return p, bad(name, "unknown parameter "+strconv.Quote(name)+" (this endpoint reads "+readNames(reads)+")")
		case dst != nil && p.seen&bit != 0:
			return p, bad(name, "given more than once")
		}
		if needsUnescape(value) {
			v, err := url.QueryUnescape(value)
			if err != nil {
				return p, bad(name, "bad escape in value "+strconv.Quote(value))
			}
			value = v
		}
		if dst == nil {
			p.filters = append(p.filters, value)
			continue
		}
		*dst = value
		p.seen |= bit
	}
	return p, nil
}

// readNames lists the names of the parameters of the bits in reads.
func readNames(reads uint8) string {
	var names []string
	for i, n := range paramNames {
		if reads&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

func needsUnescape(s string) bool { return strings.ContainsAny(s, "%+") }

// parseQuery reads the query string of an endpoint reading the parameters
// of the bits in reads, and parses the common ones.
func (s *Server) parseQuery(raw string, reads uint8) (params, common, *badParam) {
	q, bp := parseParams(raw, reads)
	if bp != nil {
		return q, common{}, bp
	}
	if q.window == "" && s.cfg.rollup != nil && reads&pN == 0 {
		q.window = autoWindow // counts and stats under a retention config (rollup.go)
	}
	c, bp := s.parseCommon(&q)
	return q, c, bp
}

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
	if w := q.window; w == autoWindow {
		if bp := s.autoSize(&c, &size); bp != nil {
			return c, bp
		}
	} else if w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || !slices.Contains(s.cfg.windows, d) {
			return c, bad("window", "unknown window size "+strconv.Quote(w)+" (one of "+s.windowNames()+")")
		}
		size = d
	}
	sp := span{size: size.Milliseconds()}
	now := s.cfg.now().UnixMilli()
	var err *badParam
	if sp.from, err = parseTime("from", q.from, 0); err != nil {
		return c, err
	}
	if sp.to, err = parseTime("to", q.to, now); err != nil {
		return c, err
	}
	if q.from == "" {
		sp.from = sp.to - DefaultRange.Milliseconds()
	}
	if sp.from >= sp.to {
		return c, bad("from", "from must be before to")
	}
	if sp.to-sp.from > s.cfg.maxRange.Milliseconds() {
		return c, bad("from", "range longer than the maximum "+s.cfg.maxRange.String())
	}
	sp.wFrom = total.WindowStart(sp.from, sp.size)
	sp.wTo = total.WindowStart(sp.to-1, sp.size) + sp.size
	if bp := s.retained(c, sp); bp != nil {
		return c, bp
	}
	c.span = sp
	c.filter, err = parseFilter(q.filters)
	return c, err
}

// Unix milliseconds from secondsLow to secondsHigh (1970-01-12 to
// 1973-03-03) are refused as unix seconds sent by mistake (2001-09-09 to
// 5138-11-16): as milliseconds they would silently ask for a range of
// early 1970, which holds nothing, or one longer than the maximum.
const (
	secondsLow  = 1_000_000_000
	secondsHigh = 100_000_000_000
)

// parseTime parses RFC 3339 or unix milliseconds; "" is def.
func parseTime(param, v string, def int64) (int64, *badParam) {
	if v == "" {
		return def, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		switch {
		case n >= secondsLow && n < secondsHigh:
			return 0, bad(param, strconv.Quote(v)+" looks like unix seconds; send milliseconds or RFC 3339 ("+
				v+"000 is "+time.Unix(n, 0).UTC().Format(time.RFC3339)+")")
		case n > 1<<50 && n < 1e17:
			return 0, bad(param, "unix milliseconds out of range: "+strconv.Quote(v)+" looks like unix microseconds; send milliseconds or RFC 3339")
		case n >= 1e17:
			return 0, bad(param, "unix milliseconds out of range: "+strconv.Quote(v)+" looks like unix nanoseconds; send milliseconds or RFC 3339")
		case n < -1<<50:
			return 0, bad(param, "unix milliseconds out of range")
		}
		return n, nil
	}
	ms, ok := event.ParseRFC3339(v)
	if !ok {
		if _, ok := event.ParseRFC3339(strings.Replace(v, " ", "+", 1)); ok {
			return 0, bad(param, strconv.Quote(v)+": a '+' in a query string is a space; write the offset's '+' as %2B (or use Z)")
		}
		return 0, bad(param, "want RFC 3339 or unix milliseconds, got "+strconv.Quote(v))
	}
	return ms, nil
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
