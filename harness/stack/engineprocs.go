package stack

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

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
// args in the environment env (nil: this process's), ready when it prints
// "engine ready".
func newWorkerProc(slot int, bin string, args, env []string, fail func(error)) *workerProc {
	p := &workerProc{slot: slot}
	p.childProc = childProc{
		name:         fmt.Sprintf("engine worker %d", slot),
		bin:          bin,
		args:         append([]string{"engine"}, args...),
		env:          env,
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
