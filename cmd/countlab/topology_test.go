package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/influxd/influxdtest"
	"github.com/countlab/countlab/sim/oracle"
)

// TestClusterTopology runs the cluster layout of deploy/k8s as processes
// on loopback: a `countlab broker` process (with topic retention), two
// `countlab engine` workers (one consumer group), `countlab sink`,
// `countlab query-server` and `countlab gateway` against a managed
// influxd, three `countlab load --shard i/3` generators, then `countlab
// check` of the three truths merged: exact.
func TestClusterTopology(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs nine countlab processes")
	}
	inf := influxdtest.Start(t).Config()
	bin := buildCountlab(t)
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	env := append(os.Environ(), "COUNTLAB_TOKEN=", "COUNTLAB_TOKEN_FILE=")

	br := startBrokerProc(t, bin, "--listen", freeAddr(t), "--partitions", "4", "--data-dir", filepath.Join(tmp, "kafka"),
		"--retention-events", "10m", "--retention-side", "10m", "--retention-changelog", "20m")
	brokers := strings.Join(br.addrs, ",")
	influx := []string{"--influx-url", inf.URL, "--influx-org", inf.Org, "--influx-bucket", inf.Bucket}
	gw, q := freeAddr(t), freeAddr(t)

	var procs []*exec.Cmd
	var logs []*syncBuffer
	start := func(args ...string) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		out := new(syncBuffer)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs, logs = append(procs, cmd), append(logs, out)
	}
	defer func() {
		for _, p := range procs {
			_ = p.Process.Signal(syscall.SIGTERM)
		}
		for i, p := range procs {
			if err := p.Wait(); err != nil && !t.Failed() {
				t.Logf("%v: %v\n%s", p.Args[1], err, logs[i])
			}
		}
	}()
	for i := range 2 {
		start("engine", "--brokers", brokers, "--windows", "10s", "--lateness", "3s", "--out-of-orderness", "1s",
			"--txn-id", "topo-engine-"+strconv.Itoa(i), "--metrics-listen", freeAddr(t))
	}
	start(append([]string{"sink", "--brokers", brokers}, influx...)...)
	start(append([]string{"query-server", "--brokers", brokers, "--listen", q, "--windows", "10s", "--insecure-no-token"}, influx...)...)
	start("gateway", "--brokers", brokers, "--listen", gw, "--partitions", "4", "--insecure-no-token")
	for _, a := range []string{gw, q} {
		waitListening(t, a, 60*time.Second)
	}

	runID := fmt.Sprintf("topo%d-", time.Now().UnixNano()%1e6)
	at := strconv.FormatInt(time.Now().Add(3*time.Second).UnixMilli(), 10)
	dirs := make([]string, 3)
	errs := make([]string, 3)
	var wg sync.WaitGroup
	for i := range dirs {
		dirs[i] = filepath.Join(tmp, "shard"+strconv.Itoa(i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, bin, "load", "ci-smoke", "--shard", strconv.Itoa(i)+"/3", "--run-id", runID, "--start", at,
				"--duration", "6s", "--rate", "600", "--gateway", "http://"+gw, "--out", dirs[i])
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Sprintf("shard %d: %v\n%s", i, err, out)
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Fatal(e)
		}
	}
	var distinct int64
	args := append([]string{"check", "--query", "http://" + q, "--wait", "60s"}, influx...)
	for _, d := range dirs {
		o, err := oracle.Load(filepath.Join(d, "truth.bin"))
		if err != nil {
			t.Fatal(err)
		}
		distinct += o.Stats().Distinct
		args = append(args, "--truth", d)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "EXACT") || !strings.Contains(string(out), fmt.Sprintf("expected %d events", distinct)) {
		t.Fatalf("check of the three shards: %v, want EXACT of %d events:\n%s", err, distinct, out)
	}
	t.Logf("%d distinct events from 3 generators through 2 engine workers: %s", distinct, strings.SplitN(string(out), "\n", 2)[0])
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t *testing.T, addr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening after %s: %v", addr, d, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
