package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/countlab/countlab/engine/kafka"
)

// engineBinary is the countlab binary the stack runs `countlab engine`
// worker processes from (tests point it at a built binary: theirs is the
// test binary).
var engineBinary = os.Executable

// workerProc is one engine worker run as a `countlab engine` process, so
// that a fault can SIGKILL or SIGSTOP it; a restart reuses its
// transactional and static-membership ids, fencing the killed one's open
// transaction and taking its partitions over at once.
type workerProc struct {
	slot int
	bin  string
	args []string
	fail func(error) // an exit nobody asked for

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	expected bool // the current process is being killed or stopped on purpose
	paused   bool
	// metrics is the current process's Prometheus endpoint (its
	// "engine metrics on URL" line), for the resource sampler.
	metrics string
}

// workerProcArgs are the `countlab engine` flags of worker slot i.
func workerProcArgs(f *stackFlags, brokers []string, i int) []string {
	id := fmt.Sprintf("countlab-up-engine-%d", i)
	args := []string{
		"--brokers", strings.Join(brokers, ","),
		"--topic-prefix", f.topicPrefix,
		"--txn-id", id,
		"--instance-id", id,
		"--windows", f.windows,
		"--lateness", f.lateness.String(),
		"--out-of-orderness", f.outOfOrder.String(),
		"--commit-interval", f.commitEvery.String(),
		"--log-level", f.logLevel,
	}
	if f.atLeastOnce {
		args = append(args, "--at-least-once-UNSAFE")
	}
	// Metrics on a free port (the resource sampler reads go_goroutines).
	args = append(args, "--metrics-listen", "127.0.0.1:0")
	if f.sessionTimeout > 0 {
		args = append(args, "--session-timeout", f.sessionTimeout.String())
	}
	if len(f.engineBrokerMap) > 0 {
		// Dial the brokers through the network proxies (netproxy.go).
		args = append(args, "--broker-map", kafka.FormatBrokerMap(f.engineBrokerMap))
	}
	return args
}

// start starts the process and waits until it prints "engine ready".
func (p *workerProc) start(ctx context.Context) error {
	cmd := exec.Command(p.bin, append([]string{"engine"}, p.args...)...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = engineSysProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("engine worker %d: %w", p.slot, err)
	}
	done := make(chan struct{})
	ready := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.expected, p.paused, p.metrics = cmd, done, false, false, ""
	p.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(out)
		isReady := false
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "engine metrics on "); ok {
				p.mu.Lock()
				p.metrics = u
				p.mu.Unlock()
			}
			if !isReady && sc.Text() == "engine ready" {
				isReady = true
				close(ready)
			}
		}
		err := cmd.Wait()
		p.mu.Lock()
		expected := p.expected
		p.mu.Unlock()
		close(done)
		if !expected {
			p.fail(fmt.Errorf("engine worker %d (pid %d) exited: %v", p.slot, cmd.Process.Pid, err))
		}
	}()
	t := time.NewTimer(60 * time.Second)
	defer t.Stop()
	select {
	case <-ready:
		return nil
	case <-done:
		return fmt.Errorf("engine worker %d exited before it was ready", p.slot)
	case <-ctx.Done():
		p.kill()
		return ctx.Err()
	case <-t.C:
		p.kill()
		return fmt.Errorf("engine worker %d not ready within 60s", p.slot)
	}
}

// pid is the current process's id, 0 when it is not running.
func (p *workerProc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	select {
	case <-p.done:
		return 0
	default:
	}
	return p.cmd.Process.Pid
}

// metricsURL is the current process's metrics endpoint ("" if unknown).
func (p *workerProc) metricsURL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.metrics
}

// kill SIGKILLs the process and waits until it is gone.
func (p *workerProc) kill() error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	if cmd == nil {
		p.mu.Unlock()
		return errors.New("not running")
	}
	p.expected = true
	p.mu.Unlock()
	select {
	case <-done:
		return fmt.Errorf("engine worker %d is not running", p.slot)
	default:
	}
	if err := signalProc(cmd.Process.Pid, sigKillProc); err != nil {
		return fmt.Errorf("engine worker %d: kill: %w", p.slot, err)
	}
	<-done
	return nil
}

// signal sends a stop (pause) or continue (resume) signal.
func (p *workerProc) signal(sig procSignal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return errors.New("not running")
	}
	select {
	case <-p.done:
		return fmt.Errorf("engine worker %d is not running", p.slot)
	default:
	}
	if err := signalProc(p.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("engine worker %d: %w", p.slot, err)
	}
	p.paused = sig == sigStopProc
	return nil
}

// stop ends the process gracefully (SIGTERM: it commits its open batch),
// SIGKILL after 30s.
func (p *workerProc) stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.expected = true
	paused := p.paused
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = signalProc(cmd.Process.Pid, sigTermProc)
	if paused {
		_ = signalProc(cmd.Process.Pid, sigContProc)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = signalProc(cmd.Process.Pid, sigKillProc)
		<-done
	}
}
