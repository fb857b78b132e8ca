package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/sim/oracle"
)

// TestCheckCommand checks a saved truth against a stand-in query API that
// serves the truth's totals, one of them off by one.
func TestCheckCommand(t *testing.T) {
	l, err := oracle.New(oracle.Config{Windows: []time.Duration{10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	base := int64(1_700_000_040_000)
	for i := 0; i < 300; i++ {
		l.Add(oracle.Sent{Event: &oracle.Event{ID: strconv.Itoa(i), Key: "k" + strconv.Itoa(i%5), Type: "VIEW", Value: 2, HasValue: true,
			TS: base + int64(i)*100}, Ref: base + 30_000, Acked: true})
	}
	path := filepath.Join(t.TempDir(), run.TruthFile)
	if err := l.Save(path); err != nil {
		t.Fatal(err)
	}
	truth := map[string]oracle.Window{}
	for _, w := range l.Windows(oracle.ByKey, false) {
		truth[w.Key+"|"+strconv.FormatInt(w.Start, 10)] = w
	}
	bad := ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/v1/stats/")
		win := truth[key+"|"+r.URL.Query().Get("from")]
		if key == bad {
			win.Count++
		}
		json.NewEncoder(w).Encode(map[string]any{"key": key, "fn": "sum", "value": win.Sum, "count": win.Count})
	}))
	defer srv.Close()
	if err := cmdCheck(t.Context(), []string{"--truth", path, "--query", srv.URL}); err != nil {
		t.Fatalf("check of an exact service: %v", err)
	}
	bad = "k3"
	err = cmdCheck(t.Context(), []string{"--ledger", path, "--query", srv.URL}) // the old name still works
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("check of a wrong service: %v, want exit 1", err)
	}
	var ue usageError
	if err := cmdCheck(t.Context(), []string{"--query", srv.URL}); !errors.As(err, &ue) {
		t.Fatalf("check without --truth: %v, want a usage error", err)
	}
}
