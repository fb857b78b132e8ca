package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/total"
)

// engineProc is one `countlab engine` process.
type engineProc struct {
	cmd  *exec.Cmd
	done chan error
}

func startEngine(t *testing.T, bin string, args ...string) *engineProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"engine"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &engineProc{cmd: cmd, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "engine ready" {
				close(ready)
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	select {
	case <-ready:
	case err := <-p.done:
		t.Fatalf("countlab engine exited before ready: %v\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("countlab engine not ready in 60s\n%s", stderr.String())
	}
	return p
}

func (p *engineProc) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *engineProc) term(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("countlab engine after SIGTERM: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("countlab engine did not stop after SIGTERM")
	}
}

// TestEngineProcessKill runs `countlab engine` as a process, SIGKILLs it
// several times while events (with duplicates, some sent after each
// restart) flow, restarts it, and compares the committed totals exactly
// with the truth computed here.
func TestEngineProcessKill(t *testing.T) {
	bin := buildCountlab(t)
	if out, _ := exec.Command(bin, "engine", "-h").CombinedOutput(); strings.Contains(string(out), "unknown command") {
		t.Skip("countlab engine is not registered in main.go yet")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn := kafka.Conn{Brokers: c.ListenAddrs()}
	opts, _ := conn.Opts()
	cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	topics := kafka.DefaultTopics("")
	const parts = 3
	if err := kafka.EnsureTopics(ctx, cl, topics, parts, 1); err != nil {
		t.Fatal(err)
	}
	args := []string{"--brokers", strings.Join(conn.Brokers, ","), "--txn-id", "engine-test-0", "--instance-id", "engine-test-0",
		"--windows", "10s,1m", "--commit-interval", "30ms", "--idle-timeout", "1h", "--log-level", "warn"}

	const base = int64(1_767_225_600_000)
	var sent []event.Event
	var sentP []int32
	produce := func(from, n int) {
		rs := make([]*kgo.Record, 0, n+n/4)
		add := func(e event.Event) {
			// The canonical partition (the engine moves records found
			// elsewhere), and the event time as the record timestamp (a
			// replay of the past: the validation's reference time).
			p := kafka.Partition([]byte(e.Key), parts)
			sent = append(sent, e)
			sentP = append(sentP, p)
			rs = append(rs, &kgo.Record{Topic: topics.Events, Partition: p, Key: []byte(e.Key), Value: event.AppendProto(nil, &e), Timestamp: time.UnixMilli(e.TS)})
		}
		for i := from; i < from+n; i++ {
			add(event.Event{ID: fmt.Sprintf("e%d", i), Key: fmt.Sprintf("k%d", i%17), Type: "VIEW", Value: float64(i%7 + 1), TS: base + int64(i)*10})
			if i%4 == 0 && i-20 >= 0 { // a duplicate of an event 20 back
				j := i - 20
				add(event.Event{ID: fmt.Sprintf("e%d", j), Key: fmt.Sprintf("k%d", j%17), Type: "VIEW", Value: float64(j%7 + 1), TS: base + int64(j)*10})
			}
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	eng := startEngine(t, bin, args...)
	next := 0
	for round := range 4 {
		for range 10 {
			produce(next, 300)
			next += 300
			time.Sleep(20 * time.Millisecond)
		}
		if round < 3 {
			eng.kill(t)
			produce(next, 300) // while it is down
			next += 300
			eng = startEngine(t, bin, args...)
		}
	}
	adm := kadm.NewClient(cl)
	waitGroupCommitted(t, ctx, adm, aggregateGroup, topics.Events)
	eng.term(t)

	// Truth: distinct ids per (size, key, sub, window).
	want := map[string]total.Total{}
	seen := map[string]bool{}
	for i, e := range sent {
		for _, size := range []int64{10_000, 60_000} {
			tt := total.Total{Key: e.Key, Type: e.Type, Sub: int(sentP[i]), Size: size, Start: e.TS - e.TS%size}
			k := string(tt.RecordKey())
			if seen[k+"/"+e.ID] {
				continue
			}
			seen[k+"/"+e.ID] = true
			cur, ok := want[k]
			if !ok {
				cur = tt
				cur.Min, cur.Max = math.Inf(1), math.Inf(-1)
			}
			cur.Count++
			cur.Sum += e.Value
			cur.Min, cur.Max = math.Min(cur.Min, e.Value), math.Max(cur.Max, e.Value)
			want[k] = cur
		}
	}
	got := readLastTotals(t, ctx, conn, adm, topics.Aggregates)
	bad := 0
	for k, w := range want {
		g := got[k]
		if g.Count != w.Count || g.Sum != w.Sum || g.Min != w.Min || g.Max != w.Max {
			if bad++; bad <= 10 {
				t.Errorf("%s: got %d/%v, want %d/%v", k, g.Count, g.Sum, w.Count, w.Sum)
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d totals, want %d", len(got), len(want))
	}
	if bad > 0 {
		t.Fatalf("%d of %d totals differ", bad, len(want))
	}
	t.Logf("%d events (%d distinct) over 3 SIGKILLs: %d totals exact", len(sent), next, len(want))
}

const aggregateGroup = "countlab-engine"

func waitGroupCommitted(t *testing.T, ctx context.Context, adm *kadm.Client, group, topic string) {
	t.Helper()
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			got, err2 := adm.FetchOffsets(ctx, group)
			done := err2 == nil
			ends.Each(func(o kadm.ListedOffset) {
				c, ok := got.Lookup(o.Topic, o.Partition)
				if o.Offset > 0 && (!ok || c.At < o.Offset) {
					done = false
				}
			})
			if done {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("engine did not commit every offset in time")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readLastTotals reads the aggregates topic read_committed to its stable
// end and keeps the last total per record key.
func readLastTotals(t *testing.T, ctx context.Context, conn kafka.Conn, adm *kadm.Client, topic string) map[string]total.Total {
	t.Helper()
	var ends kadm.ListedOffsets
	for {
		hwm, err1 := adm.ListEndOffsets(ctx, topic)
		lso, err2 := adm.ListCommittedOffsets(ctx, topic)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		stable := true
		hwm.Each(func(o kadm.ListedOffset) {
			if l, _ := lso.Lookup(o.Topic, o.Partition); l.Offset != o.Offset {
				stable = false
			}
		})
		if stable {
			ends = hwm
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	consume := map[int32]kgo.Offset{}
	left := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			consume[o.Partition] = kgo.NewOffset().AtStart()
			left++
		}
	})
	out := map[string]total.Total{}
	if left == 0 {
		return out
	}
	opts, _ := conn.Opts()
	cl, err := kgo.NewClient(append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: consume}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, _ := ends.Lookup(r.Topic, r.Partition)
			if r.Offset >= end.Offset {
				return
			}
			if !r.Attrs.IsControl() {
				tt, err := total.Unmarshal(r.Value)
				if err != nil {
					t.Fatal(err)
				}
				out[string(r.Key)] = tt
			}
			if r.Offset == end.Offset-1 {
				left--
			}
		})
	}
	return out
}
