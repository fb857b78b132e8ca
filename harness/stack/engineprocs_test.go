package stack

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/harness/stack/stacktest"
)

// TestWorkerProcRestart kills an engine worker process behind the
// stack's back (not through a fault: an exit nobody asked for, as a
// fenced zombie's PRODUCER_FENCED exit is) and checks that the stack
// starts it again instead of failing.
func TestWorkerProcRestart(t *testing.T) {
	srv := influxdtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := New(ctx, Binary(stacktest.Binary(t)), Partitions(2), Workers(1), Windows(10*time.Second),
		Lateness(5*time.Second), OutOfOrderness(time.Second), Influx(srv.Config()), EngineProcesses(true))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := st.engines[0]
	first := p.pid()
	proc, err := os.FindProcess(first)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if pid := p.pid(); pid != 0 && pid != first {
			break
		}
		select {
		case <-st.Failed():
			t.Fatalf("the stack failed instead of restarting the worker: %v", st.Err())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker process was not restarted within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := st.engineRestarts.Load(); n != 1 {
		t.Errorf("engine restarts %d, want 1", n)
	}
	if err := st.Err(); err != nil {
		t.Errorf("stack error after the restart: %v", err)
	}
}
