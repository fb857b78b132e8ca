package stack

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// TestStackMetricsScrapesWorkerProcs: a worker process's metrics are
// served with worker="SLOT", its process metrics included; one that does
// not answer is left out without failing the rest.
func TestStackMetricsScrapesWorkerProcs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("# TYPE countlab_engine_events_counted_total counter\ncountlab_engine_events_counted_total 42\n" +
			"# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1e+06\n"))
	}))
	defer srv.Close()
	live := &workerProc{slot: 1, metrics: srv.URL + "/metrics"}
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // a worker that does not answer
	dead := &workerProc{slot: 2, metrics: gone.URL + "/metrics"}
	m := newStackMetrics()
	m.procs = func() []*workerProc { return []*workerProc{live, dead} }
	fams, err := m.Gather()
	if err != nil {
		t.Fatal(err)
	}
	hasLabel := func(m *dto.Metric, name, value string) bool {
		return slices.ContainsFunc(m.Label, func(l *dto.LabelPair) bool { return l.GetName() == name && l.GetValue() == value })
	}
	var counted, rss int
	for _, f := range fams {
		for _, mt := range f.Metric {
			switch f.GetName() {
			case "countlab_engine_events_counted_total":
				if !hasLabel(mt, "worker", "1") || mt.GetCounter().GetValue() != 42 {
					t.Errorf("counted: %v", mt)
				}
				counted++
			case "process_resident_memory_bytes":
				if hasLabel(mt, "worker", "1") {
					rss++
				}
			}
		}
	}
	if counted != 1 || rss != 1 {
		t.Fatalf("counted series %d, worker rss series %d; want 1 and 1", counted, rss)
	}
}

// TestPipelineCounts: the progress line's late and dead-lettered counts
// are summed over workers and parts.
func TestPipelineCounts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("# TYPE countlab_engine_late_events_total counter\ncountlab_engine_late_events_total 3\n"))
	}))
	defer srv.Close()
	st := &Stack{metrics: newStackMetrics()}
	st.metrics.procs = func() []*workerProc {
		return []*workerProc{{slot: 0, metrics: srv.URL}, {slot: 1, metrics: srv.URL}}
	}
	if got := st.PipelineCounts().String(); got != "late=6 dead-lettered=0" {
		t.Fatalf("%q", got)
	}
}
