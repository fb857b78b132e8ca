package stack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

// childProc is a countlab subcommand run as a child process that faults
// can SIGKILL, SIGSTOP/SIGCONT and start again: the engine workers
// (engineprocs.go) and the broker (brokerproc.go). It is ready when it
// prints its ready line on stdout; an exit nobody asked for (not kill or
// stop) is reported to fail.
type childProc struct {
	name         string   // in errors: "engine worker 1"
	bin          string   // the countlab binary
	args         []string // the subcommand and its flags
	env          []string // its environment (nil: this process's)
	readyLine    string
	readyTimeout time.Duration
	notReadyHint string            // added when it exits before it is ready
	onLine       func(line string) // each stdout line (optional)
	fail         func(error)

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	expected bool // the current process is being killed or stopped on purpose
	paused   bool
}

// start starts the process and waits until it prints its ready line.
func (c *childProc) start(ctx context.Context) error {
	cmd := exec.Command(c.bin, c.args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = engineSysProcAttr()
	cmd.Env = c.env
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	done := make(chan struct{})
	ready := make(chan struct{})
	c.mu.Lock()
	c.cmd, c.done, c.expected, c.paused = cmd, done, false, false
	c.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(out)
		isReady := false
		for sc.Scan() {
			if c.onLine != nil {
				c.onLine(sc.Text())
			}
			if !isReady && sc.Text() == c.readyLine {
				isReady = true
				close(ready)
			}
		}
		err := cmd.Wait()
		c.mu.Lock()
		expected := c.expected
		c.mu.Unlock()
		close(done)
		if !expected {
			c.fail(fmt.Errorf("%s (pid %d) exited: %v", c.name, cmd.Process.Pid, err))
		}
	}()
	t := time.NewTimer(c.readyTimeout)
	defer t.Stop()
	select {
	case <-ready:
		return nil
	case <-done:
		return fmt.Errorf("%s exited before it was ready%s", c.name, c.notReadyHint)
	case <-ctx.Done():
		c.kill()
		return ctx.Err()
	case <-t.C:
		c.kill()
		return fmt.Errorf("%s not ready within %s", c.name, c.readyTimeout)
	}
}

// current is the running process and its done channel; an error when
// there is none.
func (c *childProc) current() (*exec.Cmd, chan struct{}, error) {
	if c.cmd == nil {
		return nil, nil, errors.New("not running")
	}
	select {
	case <-c.done:
		return nil, nil, fmt.Errorf("%s is not running", c.name)
	default:
	}
	return c.cmd, c.done, nil
}

// running reports whether the process runs (started and not exited).
func (c *childProc) running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _, err := c.current()
	return err == nil
}

// pid is the current process's id, 0 when it is not running.
func (c *childProc) pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	cmd, _, err := c.current()
	if err != nil {
		return 0
	}
	return cmd.Process.Pid
}

// kill SIGKILLs the process and waits until it is gone.
func (c *childProc) kill() error {
	c.mu.Lock()
	cmd, done, err := c.current()
	if err == nil {
		c.expected = true
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if err := signalProc(cmd.Process, sigKillProc); err != nil {
		return fmt.Errorf("%s: kill: %w", c.name, err)
	}
	<-done
	return nil
}

// signal sends a stop (pause) or continue (resume) signal.
func (c *childProc) signal(sig procSignal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cmd, _, err := c.current()
	if err != nil {
		return err
	}
	if err := signalProc(cmd.Process, sig); err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	c.paused = sig == sigStopProc
	return nil
}

// stop ends the process gracefully (SIGTERM: a worker commits its open
// batch, the broker saves its state), SIGKILL after 30s.
func (c *childProc) stop() {
	c.mu.Lock()
	cmd, done, err := c.current()
	c.expected = true
	paused := c.paused
	c.mu.Unlock()
	if err != nil {
		return
	}
	_ = signalProc(cmd.Process, sigTermProc)
	if paused {
		_ = signalProc(cmd.Process, sigContProc)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = signalProc(cmd.Process, sigKillProc)
		<-done
	}
}
