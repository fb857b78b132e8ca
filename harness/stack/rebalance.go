package stack

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/faults"
)

// workerScaler starts and stops engine worker processes beyond the
// stack's own (worker-add), so that the consumer group rebalances while
// the traffic flows. Extra worker slots are numbered after the stack's
// workers; each has its own transactional and static-membership id.
type workerScaler struct {
	s   *Stack
	bin string

	mu    sync.Mutex
	next  int
	extra map[int]*workerProc
}

var _ faults.WorkerScaler = stackTarget{}

// newWorkerScaler is the scaler of a stack whose n engine workers run as
// processes of bin.
func newWorkerScaler(s *Stack, bin string) *workerScaler {
	return &workerScaler{
		s:     s,
		bin:   bin,
		next:  s.cfg.workers,
		extra: map[int]*workerProc{},
	}
}

// add starts an extra worker and returns its slot once it is ready.
func (w *workerScaler) add(ctx context.Context) (int, error) {
	w.mu.Lock()
	slot := w.next
	w.next++
	p := newWorkerProc(slot, w.bin, w.s.workerArgs(slot), w.s.childEnv(), w.s.fail)
	w.extra[slot] = p
	w.mu.Unlock()
	if err := p.start(ctx); err != nil {
		w.mu.Lock()
		delete(w.extra, slot)
		w.mu.Unlock()
		return 0, err
	}
	w.s.log.Info("engine worker added", "worker", slot)
	return slot, nil
}

// remove stops the extra worker slot gracefully and takes it out of the
// group.
func (w *workerScaler) remove(ctx context.Context, slot int) error {
	w.mu.Lock()
	p := w.extra[slot]
	delete(w.extra, slot)
	w.mu.Unlock()
	if p == nil {
		return fmt.Errorf("no extra engine worker %d", slot)
	}
	return w.s.leave(ctx, p)
}

// stopAll stops every extra worker (the stack closes).
func (w *workerScaler) stopAll() {
	w.mu.Lock()
	ps := make([]*workerProc, 0, len(w.extra))
	for _, p := range w.extra {
		ps = append(ps, p)
	}
	clear(w.extra)
	w.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(p.stop)
	}
	wg.Wait()
}

// leave stops worker process p gracefully (SIGTERM: it commits its open
// transaction) and then takes its static member out of the consumer group:
// a static member does not leave on close (it would keep its partitions
// until the session timeout, waiting for a restart), so the group would
// not rebalance until then.
func (s *Stack) leave(ctx context.Context, p *workerProc) error {
	p.stop()
	id := argValue(p.args, "--instance-id")
	if id == "" {
		return nil // dynamic member: it left on close
	}
	cl, err := s.conn.NewClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	for {
		resp, err := adm.LeaveGroup(ctx, kadm.LeaveGroup(aggregate.DefaultGroup).InstanceIDs(id).Reason("countlab fault: worker removed"))
		if err == nil {
			err = resp.Error()
		}
		if err == nil {
			s.log.Info("engine worker left the group", "worker", p.slot, "instance_id", id)
			return nil
		}
		if errors.Is(err, kerr.UnknownMemberID) {
			return nil // the group dropped it already
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("engine worker %d: leave group: %w", p.slot, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// argValue is the value of flag name in args ("--name value" or
// "--name=value"), or "".
func argValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if len(a) > len(name) && a[:len(name)] == name && a[len(name)] == '=' {
			return a[len(name)+1:]
		}
	}
	return ""
}

func (t stackTarget) scaler(kind string) (*workerScaler, error) {
	if t.s.scaler == nil {
		return nil, fmt.Errorf("%s needs engine worker processes (countlab run starts them for a scenario with worker faults; --engine-procs): %w", kind, faults.ErrUnsupported)
	}
	return t.s.scaler, nil
}

// AddWorker is faults.WorkerScaler: start an extra engine worker process.
func (t stackTarget) AddWorker(ctx context.Context) (int, error) {
	w, err := t.scaler("worker-add")
	if err != nil {
		return 0, err
	}
	return w.add(ctx)
}

// RemoveWorker is faults.WorkerScaler: stop an extra worker gracefully
// and take it out of the group.
func (t stackTarget) RemoveWorker(ctx context.Context, slot int) error {
	w, err := t.scaler("worker-add")
	if err != nil {
		return err
	}
	return w.remove(ctx, slot)
}

// StopWorker is faults.WorkerScaler: stop engine worker i gracefully and
// take it out of the group; RestartWorker starts it again.
func (t stackTarget) StopWorker(ctx context.Context, i int) error {
	if _, err := t.scaler("worker-remove"); err != nil {
		return err
	}
	p, err := t.worker(i)
	if err != nil {
		return err
	}
	return t.s.leave(ctx, p)
}
