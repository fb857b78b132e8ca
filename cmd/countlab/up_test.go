package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
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
	gw, q, inf, met := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "up", "--broker-listen", freeAddr(t), "--gateway-listen", gw, "--query-listen", q, "--partitions", "2",
		"--influx-listen", inf, "--metrics-listen", met)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	sc := bufio.NewScanner(stdout)
	var banner strings.Builder
	for sc.Scan() {
		banner.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "curl -s 'http://"+q+"/v1/top") {
			break
		}
	}
	for _, want := range []string{"http://" + gw, "influxdb       http://" + inf, "metrics        http://" + met + "/metrics", "removes its temp data"} {
		if !strings.Contains(banner.String(), want) {
			t.Fatalf("banner without %q:\n%s\nstderr:\n%s", want, banner.String(), stderr.String())
		}
	}
	scrapeNames(t, "http://"+met+"/metrics") // metrics_test.go
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

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
