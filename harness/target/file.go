package target

import "time"

// File is a target file: one `target:` document.
type File struct {
	// Target is the system under test.
	Target Spec `yaml:"target"`
}

// Spec describes one system under test: how the run sends it events, how
// it reads the counts back, what it may do to it, and the semantics the
// check holds it to.
type Spec struct {
	// Name identifies the target in messages and reports (required).
	Name string `yaml:"name"`
	// Description says what the target is, for people.
	Description string `yaml:"description,omitempty"`
	// Ingest is where the run sends the events: exactly one of http or
	// kafka (required).
	Ingest Ingest `yaml:"ingest"`
	// Read is where the run reads the counts back: query_api, http_json,
	// influxql and/or flux; at least one. query_api or http_json is
	// checked per window; influxql or flux (the store) also has every
	// window read at once, which finds windows the truth does not have.
	Read Read `yaml:"read"`
	// Nodes are the target's processes that faults act on, each with the
	// shell commands that kill, pause, resume and restart it and check its
	// health (optional: without nodes, only fault-free scenarios run).
	Nodes []Node `yaml:"nodes,omitempty"`
	// Links are connections of the pipeline that the run fronts with its
	// own toxiproxy proxies for the network faults: point the pipeline at
	// a link's listen address; while a run lasts, countlab forwards it to
	// upstream (and outside a run nothing listens there).
	Links []Link `yaml:"links,omitempty"`
	// Recovery is how the run tells the target recovered after a fault
	// (optional: without it, the nodes' health commands).
	Recovery Recovery `yaml:"recovery,omitempty"`
	// Semantics are the counting rules the check holds the target to.
	Semantics Semantics `yaml:"semantics"`
}

// Ingest is where the events go: exactly one of HTTP and Kafka.
type Ingest struct {
	// HTTP posts batches of events to an HTTP endpoint.
	HTTP *HTTPIngest `yaml:"http,omitempty"`
	// Kafka produces one record per event to a topic.
	Kafka *KafkaIngest `yaml:"kafka,omitempty"`
}

// HTTPIngest is a batch endpoint: one POST per batch.
type HTTPIngest struct {
	// URL is the endpoint, http:// or https:// (required), e.g.
	// http://127.0.0.1:8080/v1/events.
	URL string `yaml:"url"`
	// Format is the body: json (a JSON array of events, the default),
	// ndjson (one JSON event a line) or protobuf (countlab.v1.EventBatch).
	Format string `yaml:"format,omitempty"`
	// Response is how the answer is read: status (the default: a 2xx
	// acknowledges every event of the batch, 429 throttles them, anything
	// else fails them and they are re-sent) or countlab (the countlab
	// gateway's per-event answer: accepted, rejected with a reason,
	// failed).
	Response string `yaml:"response,omitempty"`
	// Headers are added to every request (not secrets: use auth).
	Headers map[string]string `yaml:"headers,omitempty"`
	// Auth is the request's credentials, from the environment or files.
	Auth Auth `yaml:"auth,omitempty"`
	// Timeout bounds one request (default 30s).
	Timeout time.Duration `yaml:"timeout,omitempty"`
}

// Auth is an HTTP credential. Secrets come only from the environment or a
// file, never from the target file, and are never logged: at most one of
// bearer_env, bearer_file, or a basic user with basic_password_env or
// basic_password_file.
type Auth struct {
	// BearerEnv names the environment variable holding a bearer token.
	BearerEnv string `yaml:"bearer_env,omitempty"`
	// BearerFile is a file holding a bearer token (trailing newline
	// trimmed; relative to the target file).
	BearerFile string `yaml:"bearer_file,omitempty"`
	// BasicUser is the user of HTTP basic auth.
	BasicUser string `yaml:"basic_user,omitempty"`
	// BasicPasswordEnv names the environment variable holding the basic
	// auth password.
	BasicPasswordEnv string `yaml:"basic_password_env,omitempty"`
	// BasicPasswordFile is a file holding the basic auth password
	// (relative to the target file).
	BasicPasswordFile string `yaml:"basic_password_file,omitempty"`
}

// KafkaIngest is a topic the events are produced to (idempotent producer,
// acks=all: an event is acknowledged once Kafka has it).
type KafkaIngest struct {
	// Brokers are the seed brokers, host:port (required).
	Brokers []string `yaml:"brokers"`
	// Topic is the topic (required; it must exist).
	Topic string `yaml:"topic"`
	// Key is the record key: key (the counted key, the default), id (the
	// event id), key_id (key, a '/', id) or none.
	Key string `yaml:"key,omitempty"`
	// Encoding is the record value: json (the default) or protobuf
	// (countlab.v1.Event).
	Encoding string `yaml:"encoding,omitempty"`
	// Partitioner picks the partition: murmur2 (Kafka's default for keyed
	// records, the default), round_robin or sticky (per batch).
	Partitioner string `yaml:"partitioner,omitempty"`
	// Security is the connection's SASL login and TLS (optional:
	// plaintext without a login).
	Security *KafkaSecurity `yaml:"security,omitempty"`
}

// Read is where the counts are read back; at least one source.
type Read struct {
	// QueryAPI is countlab's query API (the query service's
	// /v1/stats/{key} and /v1/top): every window's count and sum, and
	// keys the truth does not have.
	QueryAPI *QueryAPI `yaml:"query_api,omitempty"`
	// HTTPJSON is an HTTP GET per window whose JSON answer holds its count
	// and sum (windows the truth does not have are not looked for).
	HTTPJSON *HTTPJSON `yaml:"http_json,omitempty"`
	// InfluxQL is an InfluxQL query that returns every stored window of a
	// time range (InfluxDB 1.x /query).
	InfluxQL *InfluxQL `yaml:"influxql,omitempty"`
	// Flux is a Flux query that returns every stored window of a time
	// range (InfluxDB 2.x, or 1.8 with flux-enabled).
	Flux *Flux `yaml:"flux,omitempty"`
}

// QueryAPI is a countlab query service.
type QueryAPI struct {
	// URL is its base, e.g. http://127.0.0.1:8081 (required).
	URL string `yaml:"url"`
	// Auth is its bearer token (bearer_env or bearer_file).
	Auth Auth `yaml:"auth,omitempty"`
}

// HTTPJSON is an HTTP GET template for one window's count and sum.
type HTTPJSON struct {
	// URL is the GET template (required). Placeholders, each query-escaped:
	// {key}, {type}, {start_ms}, {end_ms}, {start} and {end} (RFC 3339),
	// {window_s} and {window} (the size, "10s").
	URL string `yaml:"url"`
	// Count is the JSON path of the count in the answer, dot-separated
	// (e.g. data.count; a number; required).
	Count string `yaml:"count"`
	// Sum is the JSON path of the sum of the values (optional: without it
	// the sums are not checked).
	Sum string `yaml:"sum,omitempty"`
	// NotFound are statuses that mean an empty window (count 0), e.g.
	// [404].
	NotFound []int `yaml:"not_found,omitempty"`
	// Headers are added to every request.
	Headers map[string]string `yaml:"headers,omitempty"`
	// Auth is the request's credentials.
	Auth Auth `yaml:"auth,omitempty"`
}

// Columns name where a stored window's parts are in a query's rows.
// Rows that share (key, type, window, start) are summed (sub-keys of a
// split hot key, partitions).
type Columns struct {
	// Key is the column (or tag) of the counted key (default key).
	Key string `yaml:"key,omitempty"`
	// Type is the column of the event type (default type).
	Type string `yaml:"type,omitempty"`
	// Window is the column of the window size ("10s", "10000ms" or a
	// number of ms); empty: every row is of the one size in
	// semantics.windows.
	Window string `yaml:"window,omitempty"`
	// Count is the column of the count (default count).
	Count string `yaml:"count,omitempty"`
	// Sum is the column of the sum of values (default sum).
	Sum string `yaml:"sum,omitempty"`
}

// InfluxQL is an InfluxQL query over InfluxDB 1.x's HTTP API. The row's
// time is the window's start.
type InfluxQL struct {
	// URL is InfluxDB's base, e.g. http://127.0.0.1:8086 (required).
	URL string `yaml:"url"`
	// Database is the database (required).
	Database string `yaml:"database"`
	// Query is the template (required): {from} and {to} are the range's
	// bounds as RFC 3339 strings in single quotes, windows starting in
	// [from, to) are wanted, e.g.
	// SELECT "count","sum","key","type" FROM counts WHERE time >= {from} AND time < {to}.
	Query string `yaml:"query"`
	// Columns name the row's parts.
	Columns Columns `yaml:"columns,omitempty"`
	// Auth is basic auth (basic_user and a password) or a bearer token.
	Auth Auth `yaml:"auth,omitempty"`
}

// Flux is a Flux query over InfluxDB's /api/v2/query. The _time column is
// the window's start; the fields are pivoted or named by columns.
type Flux struct {
	// URL is InfluxDB's base (required).
	URL string `yaml:"url"`
	// Org is the organization (any on 1.8).
	Org string `yaml:"org,omitempty"`
	// Query is the template (required): {from} and {to} are Flux time
	// literals (range(start: {from}, stop: {to})), windows starting in
	// [from, to) are wanted. A record with a _field column counts when
	// _field is columns.count or columns.sum (its _value); a pivoted
	// record has the columns themselves.
	Query string `yaml:"query"`
	// Columns name the record's parts.
	Columns Columns `yaml:"columns,omitempty"`
	// Auth is the token (bearer_env or bearer_file; "user:password" on
	// 1.8).
	Auth Auth `yaml:"auth,omitempty"`
}

// Node is one process of the target. Commands run with sh -c in the target
// file's directory, with COUNTLAB_NODE (the name) and COUNTLAB_TARGET_DIR
// in the environment; each must finish within command_timeout, exit 0 for
// success.
type Node struct {
	// Name identifies the node (required, unique).
	Name string `yaml:"name"`
	// Role is what faults treat it as: worker (a counting worker: the
	// worker-* faults, by their index among the workers in file order),
	// broker (broker-crash), store (sink-outage) or other.
	Role string `yaml:"role"`
	// Kill stops it abruptly (e.g. kill -9 with its pid file).
	Kill string `yaml:"kill,omitempty"`
	// Restart starts it again after Kill (in the background: the command
	// returns once started; the run then waits for Health).
	Restart string `yaml:"restart,omitempty"`
	// Pause freezes it (e.g. kill -STOP); Resume thaws it.
	Pause  string `yaml:"pause,omitempty"`
	Resume string `yaml:"resume,omitempty"`
	// Health exits 0 while the node is healthy (e.g. curl -sf URL).
	Health string `yaml:"health,omitempty"`
	// CommandTimeout bounds every command (default 30s).
	CommandTimeout time.Duration `yaml:"command_timeout,omitempty"`
	// ReadyTimeout bounds the wait for Health after Restart (default 60s).
	ReadyTimeout time.Duration `yaml:"ready_timeout,omitempty"`
}

// Link is one proxied connection of the pipeline.
type Link struct {
	// Name is the fault link it is part of: engine-broker (the pipeline's
	// connections to Kafka: one entry per broker) or sink-influx (its
	// connections to the store), as the network-* faults' link param
	// names them.
	Name string `yaml:"name"`
	// Listen is where countlab listens during the run, host:port on
	// loopback (required).
	Listen string `yaml:"listen"`
	// Upstream is where it forwards to, host:port (required).
	Upstream string `yaml:"upstream"`
}

// Recovery is how recovery after a fault is told: every node's health
// command holds and, with consumer_groups, their lag is at most lag_bound.
type Recovery struct {
	// Brokers are the Kafka brokers of the groups (default: the Kafka
	// ingest's).
	Brokers []string `yaml:"brokers,omitempty"`
	// Security is the SASL login and TLS of those brokers (default: the
	// Kafka ingest's, when brokers is left out).
	Security *KafkaSecurity `yaml:"security,omitempty"`
	// ConsumerGroups are the target's consumer groups whose lag on their
	// topics must come back under LagBound.
	ConsumerGroups []string `yaml:"consumer_groups,omitempty"`
	// LagBound is the most records of lag that count as recovered
	// (default: half a second of the scenario's rate, at least 200).
	LagBound int64 `yaml:"lag_bound,omitempty"`
}

// Semantics are the target's counting rules, for the truth.
type Semantics struct {
	// Windows are the tumbling window sizes, aligned to the epoch
	// (required; whole milliseconds).
	Windows []time.Duration `yaml:"windows"`
	// AllowedLateness is how long after a window's end an event is still
	// counted (by event time against the watermark); omitted: 0. A target
	// that counts whatever arrives sets it beyond the run (e.g. 1h).
	AllowedLateness time.Duration `yaml:"allowed_lateness,omitempty"`
	// OutOfOrderness is the watermark's bound (max event time seen minus
	// this); omitted: 0.
	OutOfOrderness time.Duration `yaml:"out_of_orderness,omitempty"`
	// KeyPrefix is prepended to the run's keys, which already start with
	// a prefix of their own run (r<id>-: a target shared with other runs
	// is checked on this run's keys only): for a target that counts only
	// keys of some prefix.
	KeyPrefix string `yaml:"key_prefix,omitempty"`
}
