package main

import (
	"bytes"
	"context"
	"encoding/json"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/influxd/influxdtest"
)

// TestSelfcheck runs `make run`'s command in-process on a small workload:
// the whole embedded stack, every window checked against the ledger.
func TestSelfcheck(t *testing.T) {
	influxdtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := cmdSelfcheck(ctx, append([]string{"--report-dir", t.TempDir()}, testInflux(t)...)); err != nil {
		t.Fatalf("selfcheck: %v", err)
	}
}

// TestUpProcess starts `countlab up` as a user would (video-42 split over
// both partitions with --hot-key), sends events with a plain HTTP client,
// reads the count back (exact over the split), finds the events in Kafka
// under their canonical sub-keys, and stops it with SIGTERM: exit 0 and
// the temp data removed.
func TestUpProcess(t *testing.T) {
	influxdtest.Require(t)
	bin := buildCountlab(t)
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var br, gw, q, inf, met string
	up := launchUp(ctx, t, bin, append(os.Environ(), "TMPDIR="+tmp), func() ([]string, string) { // load_test.go
		br, gw, q, inf, met = freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
		return []string{"--broker-listen", br, "--gateway-listen", gw, "--query-listen", q, "--partitions", "2",
			"--influx-listen", inf, "--metrics-listen", met, "--hot-key", "video-42=2"}, "curl -s 'http://" + q + "/v1/top"
	})
	cmd, stderr := up.cmd, up.stderr
	for _, want := range []string{"http://" + gw, "influxdb       http://" + inf, "metrics        http://" + met + "/metrics", "removes its temp data",
		"hot keys       video-42=2   (record keys KEY#i; check the log with --hot-key video-42=2)"} {
		if !strings.Contains(up.banner, want) {
			t.Fatalf("banner without %q:\n%s\nstderr:\n%s", want, up.banner, stderr.String())
		}
	}
	scrapeNames(t, "http://"+met+"/metrics") // metrics_test.go
	go func() { _, _ = io.Copy(io.Discard, up.stdout) }()

	ts := time.Now().UnixMilli()
	body := `[{"id":"u-1","key":"video-42","type":"VIEW","ts":` + strconv.FormatInt(ts, 10) + `},` +
		`{"id":"u-1","key":"video-42","type":"VIEW","ts":` + strconv.FormatInt(ts, 10) + `},` +
		`{"id":"u-2","key":"video-42","type":"VIEW","value":3,"ts":` + strconv.FormatInt(ts, 10) + `,"dims":{"country":"US"}}]`
	resp, err := http.Post("http://"+gw+"/v1/events", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/events: %d", resp.StatusCode)
	}
	from := strconv.FormatInt(ts-60_000, 10)
	to := strconv.FormatInt(ts+60_000, 10)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + q + "/v1/stats/video-42?type=VIEW&fn=sum&from=" + from + "&to=" + to)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Count int64   `json:"count"`
			Value float64 `json:"value"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if got.Count == 2 && got.Value == 4 {
			break
		}
		if got.Count > 2 || time.Now().After(deadline) {
			t.Fatalf("count %d sum %g, want exactly 2 and 4 (u-1 sent twice)", got.Count, got.Value)
		}
		time.Sleep(100 * time.Millisecond)
	}

	checkHotRecords(ctx, t, br, map[string]string{"u-1": "video-42#" + hotSub("u-1", 2), "u-2": "video-42#" + hotSub("u-2", 2)})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("countlab up after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
	}
	left, _ := os.ReadDir(tmp)
	for _, e := range left {
		if strings.HasPrefix(e.Name(), "countlab-") {
			t.Errorf("temp data left behind: %s", e.Name())
		}
	}
}

// TestLaunchUpRetriesTakenPort: a port another process took between
// freeAddr and up's listen makes launchUp try again with fresh ports
// instead of failing the test (the race TestUpProcess and TestUpSASL
// used to lose under parallel test processes).
func TestLaunchUpRetriesTakenPort(t *testing.T) {
	influxdtest.Require(t)
	bin := buildCountlab(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	attempts := 0
	up := launchUp(ctx, t, bin, append(os.Environ(), "TMPDIR="+t.TempDir()), func() ([]string, string) {
		attempts++
		gw, q := freeAddr(t), freeAddr(t)
		if attempts == 1 {
			gw = taken.Addr().String()
		}
		return []string{"--broker-listen", freeAddr(t), "--gateway-listen", gw, "--query-listen", q, "--partitions", "1",
			"--influx-listen", freeAddr(t), "--metrics-listen", freeAddr(t)}, "curl -s 'http://" + q + "/v1/top"
	})
	if attempts != 2 {
		t.Fatalf("%d attempts, want 2 (the first on a taken port)", attempts)
	}
	go func() { _, _ = io.Copy(io.Discard, up.stdout) }()
	_ = up.cmd.Process.Signal(syscall.SIGTERM)
	if err := up.cmd.Wait(); err != nil {
		t.Fatalf("countlab up after SIGTERM: %v\nstderr:\n%s", err, up.stderr.String())
	}
}

// hotSub is the sub-key index of event id of a key split n ways, from the
// ingest contract (README "The ingest contract": FNV-1a-64 of the id, mod
// n), computed here rather than with the engine's code.
func hotSub(id string, n uint64) string {
	h := fnv.New64a()
	h.Write([]byte(id))
	return strconv.FormatUint(h.Sum64()%n, 10)
}

// checkHotRecords reads the events topic of the broker at addr to its end
// and wants every record's key to be the one want gives for the record's
// event id (want holds every id the topic must have).
func checkHotRecords(ctx context.Context, t *testing.T, addr string, want map[string]string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]bool{}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for len(seen) < len(want) && rctx.Err() == nil {
		cl.PollFetches(rctx).EachRecord(func(r *kgo.Record) {
			var e struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(r.Value, &e); err != nil {
				return // not an event (the gateway re-encodes JSON as JSON)
			}
			if k, ok := want[e.ID]; !ok || string(r.Key) != k {
				t.Errorf("record of %q has key %q, want %q", e.ID, r.Key, k)
			}
			seen[e.ID] = true
		})
	}
	if len(seen) < len(want) {
		t.Fatalf("events topic: found %v of %v", seen, want)
	}
}
