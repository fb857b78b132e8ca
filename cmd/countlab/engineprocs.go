package main

import (
	"context"
	"fmt"
	"os"
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
	childProc
	slot int

	metricsMu sync.Mutex
	// metrics is the current process's Prometheus endpoint (its
	// "engine metrics on URL" line), for the resource sampler.
	metrics string
}

// newWorkerProc is worker slot's process (not started): countlab engine
// args, ready when it prints "engine ready".
func newWorkerProc(slot int, bin string, args []string, fail func(error)) *workerProc {
	p := &workerProc{slot: slot}
	p.childProc = childProc{
		name:         fmt.Sprintf("engine worker %d", slot),
		bin:          bin,
		args:         append([]string{"engine"}, args...),
		readyLine:    "engine ready",
		readyTimeout: 60 * time.Second,
		fail:         fail,
		onLine: func(line string) {
			if u, ok := strings.CutPrefix(line, "engine metrics on "); ok {
				p.metricsMu.Lock()
				p.metrics = u
				p.metricsMu.Unlock()
			}
		},
	}
	return p
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
	// Log in as the stack does (stacksecure.go); the password comes from
	// the inherited environment or the file, never the command line.
	return append(args, f.sec.kafka.SecurityArgs()...)
}

// start starts the process and waits until it is ready.
func (p *workerProc) start(ctx context.Context) error {
	p.metricsMu.Lock()
	p.metrics = ""
	p.metricsMu.Unlock()
	return p.childProc.start(ctx)
}

// metricsURL is the current process's metrics endpoint ("" if unknown).
func (p *workerProc) metricsURL() string {
	p.metricsMu.Lock()
	defer p.metricsMu.Unlock()
	return p.metrics
}
