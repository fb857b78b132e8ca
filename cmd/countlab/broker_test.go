package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/countlab/countlab/engine/kafka"
)

// The countlab binary, built once per test binary by buildCountlab and
// removed by TestMain. Other test files in package main use buildCountlab
// too; this file owns TestMain.
var (
	countlabOnce sync.Once
	countlabDir  string
	countlabBin  string
	countlabErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if countlabDir != "" {
		os.RemoveAll(countlabDir)
	}
	os.Exit(code)
}

// buildCountlab builds the countlab binary (once per test binary) and
// returns its path.
func buildCountlab(t testing.TB) string {
	t.Helper()
	countlabOnce.Do(func() {
		countlabDir, countlabErr = os.MkdirTemp("", "countlab-bin-")
		if countlabErr != nil {
			return
		}
		countlabBin = filepath.Join(countlabDir, "countlab")
		out, err := exec.Command("go", "build", "-o", countlabBin, "github.com/countlab/countlab/cmd/countlab").CombinedOutput()
		if err != nil {
			countlabErr = fmt.Errorf("go build countlab: %v\n%s", err, out)
		}
	})
	if countlabErr != nil {
		t.Fatal(countlabErr)
	}
	return countlabBin
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// brokerProc is a running `countlab broker` process.
type brokerProc struct {
	cmd    *exec.Cmd
	addrs  []string
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, valid after done
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startBrokerProc starts `countlab broker args...` and waits until it
// prints its addresses and "ready". The process is killed at cleanup if it
// is still running.
func startBrokerProc(t testing.TB, bin string, args ...string) *brokerProc {
	t.Helper()
	p := &brokerProc{stderr: new(syncBuffer), done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"broker"}, args...)...)
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})

	timeout := time.After(30 * time.Second)
	for ready := false; !ready; {
		select {
		case l, ok := <-lines:
			if !ok {
				<-p.done
				t.Fatalf("countlab broker exited before ready: %v\nstderr:\n%s", p.err, p.stderr)
			}
			if a, ok := strings.CutPrefix(l, "broker listening on "); ok {
				p.addrs = kafka.ParseBrokers(a)
			}
			ready = l == "ready"
		case <-timeout:
			t.Fatalf("countlab broker not ready after 30s\nstderr:\n%s", p.stderr)
		}
	}
	if len(p.addrs) == 0 {
		t.Fatalf("countlab broker printed ready but no address line\nstderr:\n%s", p.stderr)
	}
	return p
}

// TestBrokerProcessKill9 kills the broker process with SIGKILL seven times
// while a producer is writing, restarting it on the same data dir each
// time, and checks that every acknowledged record is there exactly once and
// the group's committed offsets are intact; then SIGTERM stops it with exit
// code 0.
func TestBrokerProcessKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the countlab binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	bin := buildCountlab(t)
	t0 := time.Now()
	dir := t.TempDir()
	addr := freeAddr(t)
	args := []string{"--listen", addr, "--data-dir", dir, "--partitions", "4"}
	p := startBrokerProc(t, bin, args...)
	if len(p.addrs) != 1 || p.addrs[0] != addr {
		t.Fatalf("broker listening on %v, want %s", p.addrs, addr)
	}
	topic := kafka.DefaultTopics("").Events

	// acks=all and idempotence are franz-go's defaults; said anyway.
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.ProducerBatchMaxBytes(2048), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	const perPhase = 10000
	var (
		mu    sync.Mutex
		acked = make(map[string]int) // value -> times acknowledged
		nack  atomic.Int64
		nfail atomic.Int64
		// The produce callback kills victim the moment the ack count
		// reaches killAt, while later requests are in flight.
		killAt  atomic.Int64
		victim  atomic.Pointer[brokerProc]
		killNow = make(chan struct{}, 1)
	)
	killAt.Store(1 << 62)
	produce := func(phase string, i int) {
		v := fmt.Sprintf("%s-%06d", phase, i)
		prod.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i % 97)), Value: []byte(v)}, func(r *kgo.Record, err error) {
			if err != nil {
				nfail.Add(1)
				return
			}
			mu.Lock()
			acked[v]++
			mu.Unlock()
			if n, at := nack.Add(1), killAt.Load(); n >= at && killAt.CompareAndSwap(at, 1<<62) {
				victim.Load().cmd.Process.Signal(syscall.SIGKILL)
				killNow <- struct{}{}
			}
		})
	}

	// Phase 1: everything acknowledged.
	for i := range perPhase {
		produce("p1", i)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatalf("flush phase 1: %v", err)
	}
	if n := nack.Load(); n != perPhase || nfail.Load() != 0 {
		t.Fatalf("phase 1: %d acknowledged, %d failed, want %d and 0", n, nfail.Load(), perPhase)
	}

	// A group member consumes the first half and commits what it consumed.
	const group = "countlab-kill9"
	wantCommit := consumeAndCommit(t, ctx, addr, topic, group, perPhase/2)

	// Phase 2: eight chunks of records; in each but the last, kill -9
	// the broker as soon as a third of the chunk is acknowledged (small
	// batches keep several produce requests in flight then), and restart it
	// on the same dir at once.
	const chunks = 8
	ackedBeforeKill := make(map[string]bool)
	for k := range chunks {
		if k < chunks-1 {
			victim.Store(p)
			killAt.Store(nack.Load() + perPhase/chunks/3)
		}
		for i := range perPhase / chunks {
			produce("p2", k*perPhase/chunks+i)
		}
		if k == chunks-1 {
			break
		}
		select {
		case <-killNow:
		case <-ctx.Done():
			t.Fatalf("kill %d never happened: %d acknowledged\nstderr:\n%s", k+1, nack.Load(), p.stderr)
		}
		<-p.done
		mu.Lock()
		for v := range acked {
			ackedBeforeKill[v] = true
		}
		mu.Unlock()
		t.Logf("%v: kill -9 #%d with %d records acknowledged (%d in phase 2)", time.Since(t0).Round(time.Millisecond), k+1, len(ackedBeforeKill), len(ackedBeforeKill)-perPhase)
		if ps := p.cmd.ProcessState; ps == nil || ps.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("broker exited without being killed: %v\nstderr:\n%s", p.err, p.stderr)
		}
		p = startBrokerProc(t, bin, args...)
	}
	p2 := p
	if err := prod.Flush(ctx); err != nil {
		t.Fatalf("flush phase 2 after restart: %v", err)
	}
	t.Logf("%v: after restart: %d acknowledged in all, %d failed", time.Since(t0).Round(time.Millisecond), nack.Load(), nfail.Load())

	// Every acknowledged record is there exactly once; nothing is there
	// twice; nothing is there that was never produced.
	got := readValues(t, ctx, p2.addrs, topic, len(acked))
	mu.Lock()
	defer mu.Unlock()
	for v, n := range acked {
		if n != 1 {
			t.Errorf("%s acknowledged %d times", v, n)
		}
	}
	for v := range ackedBeforeKill {
		if got[v] != 1 {
			t.Errorf("%s acknowledged before the kill, found %d times after restart", v, got[v])
		}
	}
	missing, dup, extra := 0, 0, 0
	for v := range acked {
		if got[v] != 1 {
			missing++
		}
	}
	for v, n := range got {
		if n > 1 {
			dup++
		}
		if acked[v] == 0 {
			extra++ // written but never acknowledged: allowed, once
		}
	}
	if missing != 0 || dup != 0 {
		t.Fatalf("after restart: %d acknowledged records not found exactly once, %d values duplicated (read %d distinct values, %d acknowledged)",
			missing, dup, len(got), len(acked))
	}
	t.Logf("after restart: all %d acknowledged records present once; %d unacknowledged records present once", len(acked), extra)

	// The group's committed offsets are intact.
	cl, err := kgo.NewClient(kgo.SeedBrokers(p2.addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fetched, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err == nil {
		err = fetched.Error()
	}
	if err != nil {
		t.Fatalf("fetch group offsets: %v", err)
	}
	for part, at := range wantCommit {
		if o, ok := fetched.Lookup(topic, part); !ok || o.At != at {
			t.Errorf("group offset %s/%d after kill -9: got %d (found %v), want %d", topic, part, o.At, ok, at)
		}
	}
	if len(fetched[topic]) != len(wantCommit) {
		t.Errorf("group has %d committed partitions after kill -9, want %d", len(fetched[topic]), len(wantCommit))
	}

	// SIGTERM: clean exit 0 within a few seconds.
	start := time.Now()
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p2.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("countlab broker still running 10s after SIGTERM\nstderr:\n%s", p2.stderr)
	}
	if code := p2.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("countlab broker exit code %d after SIGTERM, want 0\nstderr:\n%s", code, p2.stderr)
	}
	t.Logf("SIGTERM -> exit 0 in %v", time.Since(start).Round(time.Millisecond))
}

// consumeAndCommit joins group, consumes n records of topic, commits their
// offsets, leaves, and returns the committed offset of each partition.
func consumeAndCommit(t *testing.T, ctx context.Context, addr, topic, group string, n int) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	commit := make(map[int32]kgo.EpochOffset)
	for got := 0; got < n; {
		fs := cl.PollRecords(ctx, n-got)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			commit[r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
			got++
		})
	}
	var commitErr error
	cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{topic: commit},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				commitErr = err
				return
			}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if rp.ErrorCode != 0 && commitErr == nil {
						commitErr = fmt.Errorf("commit %s/%d: error code %d", rt.Topic, rp.Partition, rp.ErrorCode)
					}
				}
			}
		})
	if commitErr != nil {
		t.Fatalf("commit: %v", commitErr)
	}
	out := make(map[int32]int64, len(commit))
	for p, eo := range commit {
		out[p] = eo.Offset
	}
	return out
}

// readValues reads topic from the start until at least want values arrived
// and then nothing more for a second (or 30 s passed), and counts each value.
func readValues(t *testing.T, ctx context.Context, addrs []string, topic string, want int) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := make(map[string]int)
	n := 0
	deadline := time.Now().Add(30 * time.Second)
	last := time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if n >= want && time.Since(last) > time.Second {
			break
		}
		pctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			got[string(r.Value)]++
			n++
			last = time.Now()
		})
	}
	return got
}

// TestBrokerBadFlags: a bad flag is exit code 2 with the flag named.
func TestBrokerBadFlags(t *testing.T) {
	f := func(want string, args ...string) {
		t.Helper()
		var stderr bytes.Buffer
		if code := runMain(append([]string{"broker"}, args...), &stderr); code != 2 {
			t.Fatalf("countlab broker %q: exit code %d, want 2\n%s", args, code, &stderr)
		}
		if !strings.Contains(stderr.String(), want) {
			t.Fatalf("countlab broker %q: stderr %q does not say %q", args, &stderr, want)
		}
	}
	f("--partitions must be between 1 and 65536", "--partitions", "0")
	f("--listen is empty", "--listen", " , ")
	f("every interface", "--listen", "0.0.0.0:9092")
	f("--listen", "--listen", "127.0.0.1")
	f("--log-level", "--log-level", "loud")
	f("flag provided but not defined: -nope", "--nope")
	f("unexpected argument", "extra")
}
