package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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

// TestUpProcess starts `countlab up` as a user would, sends events with a
// plain HTTP client, reads the count back, and stops it with SIGTERM: exit
// 0 and the temp data removed.
func TestUpProcess(t *testing.T) {
	influxdtest.Require(t)
	bin := buildCountlab(t)
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var gw, q, inf, met string
	up := launchUp(ctx, t, bin, append(os.Environ(), "TMPDIR="+tmp), func() ([]string, string) { // load_test.go
		gw, q, inf, met = freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
		return []string{"--broker-listen", freeAddr(t), "--gateway-listen", gw, "--query-listen", q, "--partitions", "2",
			"--influx-listen", inf, "--metrics-listen", met}, "curl -s 'http://" + q + "/v1/top"
	})
	cmd, stderr := up.cmd, up.stderr
	for _, want := range []string{"http://" + gw, "influxdb       http://" + inf, "metrics        http://" + met + "/metrics", "removes its temp data"} {
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
