package target

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/faults"
	"github.com/countlab/countlab/sim"
)

const minimal = `target:
  name: t
  ingest:
    http: {url: "http://127.0.0.1:1/in"}
  read:
    influxql: {url: "http://127.0.0.1:2", database: d, query: "SELECT * FROM c WHERE time >= {from} AND time < {to}"}
  semantics: {windows: [10s]}
`

// TestParseStrict: unknown fields, wrong types and missing or bad values
// are refused with the field's path and a fix.
func TestParseStrict(t *testing.T) {
	if _, err := Parse("ok.yaml", []byte(minimal)); err != nil {
		t.Fatalf("minimal target: %v", err)
	}
	for _, c := range []struct{ yaml, want string }{
		{"", "empty file"},
		{strings.Replace(minimal, "database: d", "databse: d", 1), `target.read.influxql.databse (line 6): unknown field "databse"; did you mean "database"?`},
		{strings.Replace(minimal, "  name: t\n", "  name: t\n  colour: red\n", 1), `target.colour (line 3): unknown field "colour"`},
		{strings.Replace(minimal, "windows: [10s]", "windows: [ten]", 1), "target.semantics.windows"},
		{strings.Replace(minimal, "  name: t\n", "", 1), "target.name: missing; name the target"},
		{strings.Replace(minimal, `"http://127.0.0.1:1/in"`, `"ftp://x"`, 1), "target.ingest.http.url: \"ftp://x\" is not an http:// or https:// URL"},
		{strings.Replace(minimal, "{url: \"http://127.0.0.1:1/in\"}", "{url: \"http://127.0.0.1:1/in\", format: xml}", 1), `target.ingest.http.format: "xml" is not one of json, ndjson, protobuf`},
		{strings.Replace(minimal, "{from}", "", 1), "target.read.influxql.query: no {from} or no {to} placeholder"},
		{strings.Replace(minimal, "windows: [10s]", "windows: [10s, 1m]", 1), "target.read.influxql.columns.window: missing with more than one window size"},
		{strings.Replace(minimal, "  semantics:", "  nodes: [{name: a, role: worker, kill: \"true\"}]\n  semantics:", 1), "target.nodes[0]: kill without restart"},
		{strings.Replace(minimal, "  semantics:", "  nodes: [{name: a, role: boss}]\n  semantics:", 1), `target.nodes[0].role: "boss" is not one of worker, broker, store, other`},
		{strings.Replace(minimal, "{url: \"http://127.0.0.1:1/in\"}", "{url: \"http://127.0.0.1:1/in\", auth: {bearer_env: A, bearer_file: f}}", 1), "target.ingest.http.auth: more than one credential"},
	} {
		_, err := Parse("t.yaml", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v\nwant an error with %q", err, c.want)
		}
	}
}

// TestShippedTargets: the example target files load.
func TestShippedTargets(t *testing.T) {
	for _, p := range []string{"../../examples/naive-counter/target.yaml", "../../examples/reference/target.yaml"} {
		tg, err := Load(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if tg.Faults().Workers() != 2 || !tg.Capabilities().Has(faults.CapWorkerControl, faults.CapWorkerPause, faults.CapRecoveryProbe) {
			t.Errorf("%s: workers %d, capabilities %v", p, tg.Faults().Workers(), tg.Capabilities().List())
		}
	}
}

// TestCheck: a fault or probe the target cannot serve is refused, naming
// it and the missing capability.
func TestCheck(t *testing.T) {
	f, err := Parse("t.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	bare := New(f.Target, t.TempDir())
	crash := []faults.Spec{{Name: "kill-1", Kind: "worker-crash", Start: time.Second, Duration: time.Second, Params: map[string]any{"worker": 1}}}
	var me *faults.MissingError
	if err := bare.Check(crash, nil, nil); !errors.As(err, &me) || me.Missing != faults.CapWorkerControl || !strings.Contains(err.Error(), "fault kill-1 (worker-crash) needs worker-control") {
		t.Errorf("worker-crash on a target without nodes: %v", err)
	}
	if err := bare.Check(nil, []Probe{ProbeFreshness}, nil); !errors.As(err, &me) || me.Missing != faults.CapQueryAPI || !strings.Contains(err.Error(), "probe freshness") {
		t.Errorf("freshness on a store-only target: %v", err)
	}
	if err := bare.Check([]faults.Spec{{Kind: "overload", Duration: time.Second}}, nil, faults.Capabilities{faults.CapTrafficSender: true}); !errors.As(err, &me) || me.Missing != faults.CapRecoveryProbe {
		t.Errorf("overload without a recovery probe: %v", err)
	}
	s := f.Target
	s.Nodes = []Node{{Name: "w", Role: RoleWorker, Kill: "true", Restart: "true", Health: "true", CommandTimeout: time.Second, ReadyTimeout: time.Second}}
	one := New(s, t.TempDir())
	if err := one.Check(crash, nil, nil); err == nil || !strings.Contains(err.Error(), "worker 1, but the target has 1 worker nodes") {
		t.Errorf("worker 1 of 1: %v", err)
	}
	crash[0].Params["worker"] = 0
	if err := one.Check(crash, nil, nil); err != nil {
		t.Errorf("worker 0 of 1: %v", err)
	}
	for _, k := range []string{"broker-crash", "sink-outage", "worker-pause", "network-latency", "broker-errors", "late-burst"} {
		if err := one.Check([]faults.Spec{{Kind: k, Duration: time.Second, Params: map[string]any{"link": "sink-influx"}}}, nil, nil); !errors.As(err, &me) {
			t.Errorf("%s on a target with one kill/restart worker: %v, want refused", k, err)
		}
	}
	for _, k := range faults.Kinds() {
		if len(faults.Needs(k)) == 0 {
			t.Errorf("fault kind %s declares no needs", k)
		}
	}
}

// TestControls: the node commands run in the target's directory with its
// environment; a restart that leaves a process in the background returns,
// and the run waits for the health command.
func TestControls(t *testing.T) {
	dir := t.TempDir()
	n := Node{Name: "w0", Role: RoleWorker, CommandTimeout: 10 * time.Second, ReadyTimeout: 10 * time.Second,
		Restart: `sleep 60 & echo $! > pid; echo "$COUNTLAB_NODE" > name`,
		Kill:    `kill -9 $(cat pid); rm name`, Pause: `kill -STOP $(cat pid)`, Resume: `kill -CONT $(cat pid)`,
		Health: `kill -0 $(cat pid) && test -f "$COUNTLAB_TARGET_DIR/name"`}
	c := newControls([]Node{n}, dir)
	ctx := context.Background()
	start := time.Now()
	if err := c.RestartWorker(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a restart leaving a background process took %s", d)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "name")); strings.TrimSpace(string(b)) != "w0" {
		t.Errorf("COUNTLAB_NODE: %q", b)
	}
	if err := c.PauseWorker(0); err != nil {
		t.Fatal(err)
	}
	if err := c.ResumeWorker(0); err != nil {
		t.Fatal(err)
	}
	if err := c.KillWorker(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if c.healthy(ctx, c.workers[0]) {
		t.Error("healthy after kill")
	}
	if err := c.KillBroker(); !errors.Is(err, faults.ErrUnsupported) {
		t.Errorf("kill of a missing broker node: %v", err)
	}
	c.workers[0].Kill = "echo no such thing >&2; exit 3"
	if err := c.KillWorker(ctx, 0); err == nil || !strings.Contains(err.Error(), "node w0: kill command") || !strings.Contains(err.Error(), "no such thing") {
		t.Errorf("a failing command: %v", err)
	}
}

// TestHTTPIngestAndReader: the status ingest posts each format with the
// headers and credential, and reads 2xx/429/5xx; the http_json reader
// fills its template and follows its JSON paths.
func TestHTTPIngestAndReader(t *testing.T) {
	t.Setenv("TGT_TOKEN", "s3cret")
	var got []string
	status := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			if r.URL.Query().Get("key") == "missing" {
				http.NotFound(w, r)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"n": []any{json.Number("7")}, "s": 12.5},
				"echo": r.URL.RawQuery})
			return
		}
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Header.Get("Authorization")+"|"+r.Header.Get("X-Team")+"|"+r.Header.Get("Content-Type")+"|"+string(b))
		w.WriteHeader(status)
	}))
	defer srv.Close()
	items := []sim.Item{{Event: event.Event{ID: "1", Key: "k", Type: "VIEW", Value: 2, TS: 1000}}, {Event: event.Event{ID: "2", Key: "k", Type: "VIEW", Value: 1, TS: 2000}}}
	out := make([]sim.Outcome, 2)
	for _, format := range []string{"json", "ndjson", "protobuf"} {
		tr, err := newHTTPIngest(&HTTPIngest{URL: srv.URL + "/in", Format: format, Response: "status", Headers: map[string]string{"X-Team": "a"},
			Auth: Auth{BearerEnv: "TGT_TOKEN"}, Timeout: 5 * time.Second}, "", 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Send(context.Background(), items, out); err != nil || out[0] != sim.Acked || out[1] != sim.Acked {
			t.Fatalf("%s: %v %v", format, err, out)
		}
	}
	if !strings.HasPrefix(got[0], "Bearer s3cret|a|application/json|[{") || !strings.HasPrefix(got[1], "Bearer s3cret|a|application/x-ndjson|{") ||
		strings.Count(got[1], "\n") != 2 || !strings.Contains(got[2], "application/x-protobuf") {
		t.Errorf("requests: %q", got)
	}
	tr, _ := newHTTPIngest(&HTTPIngest{URL: srv.URL, Format: "json", Response: "status", Timeout: 5 * time.Second}, "", 1)
	status = http.StatusTooManyRequests
	if err := tr.Send(context.Background(), items, out); err != nil || out[0] != sim.Throttled {
		t.Errorf("429: %v %v", err, out)
	}
	status = http.StatusInternalServerError
	if err := tr.Send(context.Background(), items, out); err == nil || out[0] != sim.Failed {
		t.Errorf("500: %v %v", err, out)
	}
	if _, err := newHTTPIngest(&HTTPIngest{URL: srv.URL, Auth: Auth{BearerEnv: "TGT_UNSET"}}, "", 1); err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "TGT_UNSET is not set") {
		t.Errorf("unset token: %v", err)
	}

	h := &httpJSON{spec: &HTTPJSON{URL: srv.URL + "/c?key={key}&type={type}&from={start_ms}&w={window_s}", Count: "data.n.0", Sum: "data.s", NotFound: []int{404}}, client: srv.Client()}
	req := client.StatsRequest{Key: "a b", Range: client.Range{Type: "VIEW", From: time.UnixMilli(10000), To: time.UnixMilli(20000), Window: 10 * time.Second}}
	res, err := h.Stats(context.Background(), req)
	if err != nil || res.Count != 7 || res.Value != 12.5 {
		t.Fatalf("http_json: %+v %v", res, err)
	}
	if u := h.url(req); !strings.HasSuffix(u, "/c?key=a+b&type=VIEW&from=10000&w=10") {
		t.Errorf("url %s", u)
	}
	req.Key = "missing"
	if res, err := h.Stats(context.Background(), req); err != nil || res.Count != 0 {
		t.Errorf("not found: %+v %v", res, err)
	}
	h.spec.Count = "data.x"
	req.Key = "a"
	if _, err := h.Stats(context.Background(), req); err == nil || !strings.Contains(err.Error(), `no "x" in the answer`) {
		t.Errorf("bad path: %v", err)
	}
}

// TestLinks: a target's link is a real toxiproxy proxy the network faults
// act on; a fault on a link the target does not declare is refused.
func TestLinks(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	f, err := Parse("t.yaml", []byte(strings.Replace(minimal, "  semantics:", "  links: [{name: sink-influx, listen: \""+listen+"\", upstream: \""+strings.TrimPrefix(up.URL, "http://")+"\"}]\n  semantics:", 1)))
	if err != nil {
		t.Fatal(err)
	}
	tg := New(f.Target, t.TempDir())
	defer tg.Close()
	if !tg.Capabilities().Has(faults.CapNetworkProxies) {
		t.Fatalf("capabilities %v", tg.Capabilities().List())
	}
	wrong := []faults.Spec{{Name: "cut", Kind: "network-partition", Duration: time.Second, Params: map[string]any{"link": "engine-broker"}}}
	if err := tg.Check(wrong, nil, faults.Capabilities{faults.CapRecoveryProbe: true}); err == nil || !strings.Contains(err.Error(), "link engine-broker is not among the target's links") {
		t.Errorf("a fault on an undeclared link: %v", err)
	}
	if err := tg.StartLinks(context.Background()); err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func() error {
		resp, err := cl.Get("http://" + listen + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatalf("through the link: %v", err)
	}
	ctx := context.Background()
	cut, err := faults.New(faults.Spec{Kind: "network-partition", Duration: time.Second, Params: map[string]any{"link": "sink-influx", "mode": "refuse"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cut.Inject(ctx, tg.Faults()); err != nil {
		t.Fatal(err)
	}
	if err := get(); err == nil {
		t.Error("a request passed the cut link")
	}
	if err := cut.Heal(ctx, tg.Faults()); err != nil {
		t.Fatal(err)
	}
	slow, _ := faults.New(faults.Spec{Kind: "sink-slow", Duration: time.Second, Params: map[string]any{"latency_ms": 300}})
	if err := slow.Inject(ctx, tg.Faults()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := get(); err != nil || time.Since(start) < 300*time.Millisecond {
		t.Errorf("through the slow link: %v after %s", err, time.Since(start))
	}
	if err := slow.Heal(ctx, tg.Faults()); err != nil {
		t.Fatal(err)
	}
	if err := get(); err != nil {
		t.Errorf("after the heals: %v", err)
	}
}
