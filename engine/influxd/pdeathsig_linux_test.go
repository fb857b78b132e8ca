//go:build linux

package influxd_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/influxd"
	"github.com/countlab/countlab/engine/influxd/influxdtest"
)

const envChild = "COUNTLAB_INFLUXD_TEST_CHILD"

// TestDiesWithParent starts a server from a child process (this test
// binary again), SIGKILLs the child, and checks influxd is gone too
// (Pdeathsig): a managed server never outlives countlab.
func TestDiesWithParent(t *testing.T) {
	if os.Getenv(envChild) == "1" {
		s, err := influxd.Start(context.Background())
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("dir:", s.DataDir())
		fmt.Println("pid:", s.Pid())
		time.Sleep(time.Minute) // until killed
		return
	}
	t.Parallel()
	if _, err := influxd.FindBinary(); err != nil {
		influxdtest.Start(t) // skips or fails as configured
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiesWithParent$")
	cmd.Env = append(os.Environ(), envChild+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	var dir string
	sc := bufio.NewScanner(out)
	for pid == 0 && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "error:"):
			t.Fatal(line)
		case strings.HasPrefix(line, "dir: "):
			dir = strings.TrimPrefix(line, "dir: ")
		case strings.HasPrefix(line, "pid: "):
			pid, _ = strconv.Atoi(strings.TrimPrefix(line, "pid: "))
		}
	}
	if dir != "" {
		defer os.RemoveAll(dir) // the killed child cannot
	}
	if pid <= 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("child did not report an influxd pid")
	}
	t.Logf("child started influxd pid %d in %v", pid, time.Since(began))
	killed := time.Now()
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) || zombie(pid) {
			t.Logf("influxd gone %v after its parent was killed", time.Since(killed))
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("influxd pid %d still alive 5 s after its parent was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// zombie reports whether pid has exited but not yet been reaped by its new
// parent.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}
