package stack

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/influxd/influxdtest"
)

// TestWorkerProcRestart kills an engine worker process behind the
// stack's back (not through a fault: an exit nobody asked for, as a
// fenced zombie's PRODUCER_FENCED exit is) and checks that the stack
// starts it again instead of failing.
func TestWorkerProcRestart(t *testing.T) {
	srv := influxdtest.Start(t)
	bin := buildCountlab(t)
	engineBinary = func() (string, error) { return bin, nil }
	defer func() { engineBinary = os.Executable }()
	c := srv.Config()
	f := &stackFlags{brokerListen: "127.0.0.1:0", gatewayListen: "127.0.0.1:0", queryListen: "127.0.0.1:0",
		partitions: 2, workers: 1, windows: "10s", lateness: 5 * time.Second, outOfOrder: time.Second,
		commitEvery: 100 * time.Millisecond, influxURL: c.URL, influxOrg: c.Org, influxBucket: c.Bucket,
		logLevel: "warn", engineProcs: true}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := startStack(ctx, f, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
		case <-stackFailed(st):
			t.Fatalf("the stack failed instead of restarting the worker: %v", st.firstErr())
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
	if err := st.firstErr(); err != nil {
		t.Errorf("stack error after the restart: %v", err)
	}
}
