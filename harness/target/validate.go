package target

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/countlab/countlab/faults"
)

// Node roles.
const (
	RoleWorker = "worker"
	RoleBroker = "broker"
	RoleStore  = "store"
	RoleOther  = "other"
)

func (s *Spec) applyDefaults() {
	if h := s.Ingest.HTTP; h != nil {
		h.Format = cmpOr(h.Format, "json")
		h.Response = cmpOr(h.Response, "status")
		if h.Timeout == 0 {
			h.Timeout = 30 * time.Second
		}
	}
	if k := s.Ingest.Kafka; k != nil {
		k.Key = cmpOr(k.Key, "key")
		k.Encoding = cmpOr(k.Encoding, "json")
		k.Partitioner = cmpOr(k.Partitioner, "murmur2")
	}
	if q := s.Read.InfluxQL; q != nil {
		q.Columns.applyDefaults()
	}
	if q := s.Read.Flux; q != nil {
		q.Columns.applyDefaults()
	}
	for i := range s.Nodes {
		n := &s.Nodes[i]
		if n.CommandTimeout == 0 {
			n.CommandTimeout = 30 * time.Second
		}
		if n.ReadyTimeout == 0 {
			n.ReadyTimeout = 60 * time.Second
		}
	}
	if len(s.Recovery.Brokers) == 0 && s.Ingest.Kafka != nil {
		s.Recovery.Brokers = s.Ingest.Kafka.Brokers
		if s.Recovery.Security == nil {
			s.Recovery.Security = s.Ingest.Kafka.Security
		}
	}
}

func (c *Columns) applyDefaults() {
	c.Key, c.Type = cmpOr(c.Key, "key"), cmpOr(c.Type, "type")
	c.Count, c.Sum = cmpOr(c.Count, "count"), cmpOr(c.Sum, "sum")
}

// errs collects the FieldErrors of the fields under target:.
type errs struct{ list Errors }

func (e *errs) add(path, msg, fix string) { e.list.Add("target."+path, msg, fix) }

func (e *errs) oneOf(path, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		e.add(path, fmt.Sprintf("%q is not one of %s", v, strings.Join(allowed, ", ")), "write one of "+strings.Join(allowed, ", "))
	}
}

func (e *errs) url(path, v string) {
	if v == "" {
		e.add(path, "missing", "give the URL, e.g. http://127.0.0.1:8080")
		return
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.add(path, fmt.Sprintf("%q is not an http:// or https:// URL", v), "write it as http://host:port/path")
	}
}

func (e *errs) auth(path string, a Auth, basic bool) {
	n := 0
	for _, s := range []string{a.BearerEnv, a.BearerFile, a.BasicPasswordEnv, a.BasicPasswordFile} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		e.add(path, "more than one credential", "give one of bearer_env, bearer_file, basic_password_env, basic_password_file")
	}
	if (a.BasicPasswordEnv != "" || a.BasicPasswordFile != "") && a.BasicUser == "" {
		e.add(path+".basic_user", "missing with a basic password", "give the user name")
	}
	if a.BasicUser != "" && a.BasicPasswordEnv == "" && a.BasicPasswordFile == "" {
		e.add(path+".basic_password_env", "basic_user without a password", "give basic_password_env or basic_password_file")
	}
	if !basic && a.BasicUser != "" {
		e.add(path+".basic_user", "basic auth is not supported here", "use bearer_env or bearer_file")
	}
}

// Validate checks the spec; every error names the field and the fix.
func (s *Spec) Validate() error {
	var e errs
	if s.Name == "" {
		e.add("name", "missing", "name the target, e.g. name: my-pipeline")
	}
	s.validateIngest(&e)
	s.validateRead(&e)
	s.validateNodes(&e)
	s.validateLinks(&e)
	sem := s.Semantics
	if len(sem.Windows) == 0 {
		e.add("semantics.windows", "missing", "list the target's window sizes, e.g. windows: [10s]")
	}
	for i, w := range sem.Windows {
		if w <= 0 || w%time.Millisecond != 0 {
			e.add(fmt.Sprintf("semantics.windows[%d]", i), fmt.Sprintf("%s is not a positive whole number of milliseconds", w), "write e.g. 10s")
		}
	}
	if !slices.IsSorted(sem.Windows) || len(slices.Compact(slices.Clone(sem.Windows))) != len(sem.Windows) {
		e.add("semantics.windows", "not in increasing order without repeats", "sort them, smallest first")
	}
	if sem.AllowedLateness < 0 {
		e.add("semantics.allowed_lateness", "negative", "write 0s or more")
	}
	if sem.OutOfOrderness < 0 {
		e.add("semantics.out_of_orderness", "negative", "write 0s or more")
	}
	if r := s.Recovery; len(r.ConsumerGroups) > 0 && len(r.Brokers) == 0 {
		e.add("recovery.brokers", "missing with consumer_groups (and the ingest is not Kafka)", "list the brokers of the groups")
	}
	e.kafkaSecurity("recovery.security", s.Recovery.Security)
	if s.Recovery.LagBound < 0 {
		e.add("recovery.lag_bound", "negative", "write a number of records >= 0, or leave it out")
	}
	return e.list.Err()
}

func (s *Spec) validateIngest(e *errs) {
	h, k := s.Ingest.HTTP, s.Ingest.Kafka
	switch {
	case h == nil && k == nil:
		e.add("ingest", "missing", "give ingest.http (a batch endpoint) or ingest.kafka (a topic)")
	case h != nil && k != nil:
		e.add("ingest", "both http and kafka", "keep one of them")
	case h != nil:
		e.url("ingest.http.url", h.URL)
		e.oneOf("ingest.http.format", h.Format, "json", "ndjson", "protobuf")
		e.oneOf("ingest.http.response", h.Response, "status", "countlab")
		if h.Response == "countlab" && !strings.HasSuffix(h.URL, "/v1/events") {
			e.add("ingest.http.url", "response: countlab needs the countlab gateway's endpoint", "end the URL with /v1/events")
		}
		if h.Response == "countlab" && h.Format == "ndjson" {
			e.add("ingest.http.format", "the countlab gateway takes json or protobuf", "write json or protobuf")
		}
		if h.Timeout < 0 {
			e.add("ingest.http.timeout", "negative", "write e.g. 30s")
		}
		e.auth("ingest.http.auth", h.Auth, true)
	default:
		if len(k.Brokers) == 0 {
			e.add("ingest.kafka.brokers", "missing", "list the seed brokers, e.g. brokers: [127.0.0.1:9092]")
		}
		if k.Topic == "" {
			e.add("ingest.kafka.topic", "missing", "name the topic the pipeline reads")
		}
		e.oneOf("ingest.kafka.key", k.Key, "key", "id", "key_id", "none")
		e.oneOf("ingest.kafka.encoding", k.Encoding, "json", "protobuf")
		e.oneOf("ingest.kafka.partitioner", k.Partitioner, "murmur2", "round_robin", "sticky")
		e.kafkaSecurity("ingest.kafka.security", k.Security)
	}
}

func (s *Spec) validateRead(e *errs) {
	r := s.Read
	if r.QueryAPI == nil && r.HTTPJSON == nil && r.InfluxQL == nil && r.Flux == nil {
		e.add("read", "missing", "give at least one of query_api, http_json, influxql, flux")
		return
	}
	if r.QueryAPI != nil && r.HTTPJSON != nil {
		e.add("read", "both query_api and http_json", "keep one per-window reader")
	}
	if r.InfluxQL != nil && r.Flux != nil {
		e.add("read", "both influxql and flux", "keep one store reader")
	}
	if q := r.QueryAPI; q != nil {
		e.url("read.query_api.url", q.URL)
		e.auth("read.query_api.auth", q.Auth, false)
	}
	if h := r.HTTPJSON; h != nil {
		e.url("read.http_json.url", strings.NewReplacer("{", "", "}", "").Replace(h.URL))
		if !strings.Contains(h.URL, "{key}") {
			e.add("read.http_json.url", "no {key} placeholder", "put {key}, {type}, {start_ms} and {window_s} (or {window}) where the endpoint takes them")
		}
		if h.Count == "" {
			e.add("read.http_json.count", "missing", "give the JSON path of the count, e.g. data.count")
		}
		e.auth("read.http_json.auth", h.Auth, true)
	}
	needWindowCol := len(s.Semantics.Windows) > 1
	if q := r.InfluxQL; q != nil {
		e.url("read.influxql.url", q.URL)
		if q.Database == "" {
			e.add("read.influxql.database", "missing", "name the database")
		}
		checkTemplate(e, "read.influxql.query", q.Query)
		if needWindowCol && q.Columns.Window == "" {
			e.add("read.influxql.columns.window", "missing with more than one window size", "name the column of the window size")
		}
		e.auth("read.influxql.auth", q.Auth, true)
	}
	if q := r.Flux; q != nil {
		e.url("read.flux.url", q.URL)
		checkTemplate(e, "read.flux.query", q.Query)
		if needWindowCol && q.Columns.Window == "" {
			e.add("read.flux.columns.window", "missing with more than one window size", "name the column of the window size")
		}
		e.auth("read.flux.auth", q.Auth, false)
	}
}

func checkTemplate(e *errs, path, q string) {
	if q == "" {
		e.add(path, "missing", "give the query, with {from} and {to} where the time range goes")
		return
	}
	if !strings.Contains(q, "{from}") || !strings.Contains(q, "{to}") {
		e.add(path, "no {from} or no {to} placeholder", "bound the time range with {from} and {to}")
	}
}

func (s *Spec) validateNodes(e *errs) {
	seen := map[string]bool{}
	for i, n := range s.Nodes {
		p := fmt.Sprintf("nodes[%d]", i)
		if n.Name == "" {
			e.add(p+".name", "missing", "name the node")
		} else if seen[n.Name] {
			e.add(p+".name", fmt.Sprintf("%q twice", n.Name), "give each node its own name")
		}
		seen[n.Name] = true
		e.oneOf(p+".role", n.Role, RoleWorker, RoleBroker, RoleStore, RoleOther)
		if (n.Kill == "") != (n.Restart == "") {
			e.add(p, "kill without restart or restart without kill", "give both (a killed node must come back)")
		}
		if (n.Pause == "") != (n.Resume == "") {
			e.add(p, "pause without resume or resume without pause", "give both")
		}
		if n.CommandTimeout < 0 || n.ReadyTimeout < 0 {
			e.add(p, "negative command_timeout or ready_timeout", "write e.g. 30s")
		}
	}
}

func (s *Spec) validateLinks(e *errs) {
	seen := map[string]bool{}
	for i, l := range s.Links {
		p := fmt.Sprintf("links[%d]", i)
		e.oneOf(p+".name", l.Name, faults.Links()...)
		host, _, err := net.SplitHostPort(l.Listen)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			e.add(p+".listen", fmt.Sprintf("%q is not a loopback host:port", l.Listen), "write e.g. 127.0.0.1:18096 and point the pipeline at it")
		} else if seen[l.Listen] {
			e.add(p+".listen", fmt.Sprintf("%s twice", l.Listen), "give each link its own port")
		}
		seen[l.Listen] = true
		if _, _, err := net.SplitHostPort(l.Upstream); err != nil {
			e.add(p+".upstream", fmt.Sprintf("%q is not host:port", l.Upstream), "write the address the pipeline would otherwise connect to")
		}
	}
}
