package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGatewayCommand runs `countlab gateway` as a process against an
// in-process kfake cluster: it creates the topics, checks the token from
// COUNTLAB_TOKEN, and on SIGTERM finishes a request whose produce is held
// by the broker before exiting 0.
func TestGatewayCommand(t *testing.T) {
	bin := buildCountlab(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")

	// Usage errors exit 2.
	for _, args := range [][]string{
		{"gateway"},
		{"gateway", "--brokers", brokers, "--hot-key", "nope"},
		{"gateway", "--brokers", brokers, "--max-batch", "10", "--max-in-flight", "5"},
	} {
		err := exec.Command(bin, args...).Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("countlab %v: %v, want exit code 2", args, err)
		}
	}

	cmd := exec.Command(bin, "gateway", "--brokers", brokers, "--listen", freeAddr(t),
		"--partitions", "4", "--topic-prefix", "gw-", "--hot-key", "hot=3")
	cmd.Env = append(os.Environ(), "COUNTLAB_TOKEN=tok-123")
	stderr := new(syncBuffer)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	defer func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
	}()
	lineCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if l := sc.Text(); strings.Contains(l, "listening on ") {
				lineCh <- l
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var base string
	select {
	case l := <-lineCh:
		base = strings.Fields(strings.SplitN(l, "listening on ", 2)[1])[0]
	case <-done:
		t.Fatalf("gateway exited: %v\n%s", waitErr, stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("gateway printed no address\n%s", stderr)
	}
	if strings.Contains(stderr.String(), "tok-123") {
		t.Fatalf("the token was logged:\n%s", stderr)
	}

	post := func(token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/v1/events", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	now := strconv.FormatInt(time.Now().UnixMilli(), 10) // within the gateway's bounds around its receive time
	ev := func(id, key string) string {
		return `{"id":"` + id + `","key":"` + key + `","type":"VIEW","ts":` + now + `}`
	}
	if code, body := post("", "["+ev("a", "k")+"]"); code != 401 {
		t.Fatalf("no token: %d %s, want 401", code, body)
	}
	if code, body := post("tok-123", "["+ev("a", "k")+`,{"id":"b"}]`); code != 207 {
		t.Fatalf("with token: %d %s, want 207", code, body)
	}

	// Hold the next produce, send SIGTERM while the request waits, then
	// let it through: the request is answered 200 and the process exits 0.
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		once.Do(func() {
			close(held)
			c.SleepControl(func() { <-release })
		})
		return nil, nil, false
	})
	answer := make(chan string, 1)
	go func() {
		code, body := post("tok-123", "["+ev("c", "hot")+","+ev("d", "hot")+"]")
		answer <- strings.TrimSpace(body) + " " + http.StatusText(code)
	}()
	select {
	case <-held:
	case <-time.After(20 * time.Second):
		t.Fatal("produce never reached the broker")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	close(release)
	if a := <-answer; !strings.HasSuffix(a, " OK") {
		t.Fatalf("request during shutdown: %s, want 200", a)
	}
	select {
	case <-done:
		if waitErr != nil {
			t.Fatalf("gateway exit: %v\n%s", waitErr, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not exit after SIGTERM")
	}

	// The topics were created with 4 partitions and hold the 3 good events.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	for topic, want := range map[string]int64{"gw-events": 3, "gw-dead-letter": 1} {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		parts := 0
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset; parts++ })
		if n != want || parts != 4 {
			t.Errorf("%s: %d records in %d partitions, want %d in 4", topic, n, parts, want)
		}
	}
}
