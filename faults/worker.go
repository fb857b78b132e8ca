package faults

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// workerCrash kills an engine worker abruptly and restarts it when healed.
type workerCrash struct{ worker int }

func buildWorkerCrash(p *params) (Fault, error) {
	i, err := p.int("worker", 0)
	if err != nil {
		return nil, err
	}
	if i < 0 {
		return nil, fmt.Errorf("param worker: must be >= 0 (got %d)", i)
	}
	return &workerCrash{worker: i}, nil
}

func (f *workerCrash) Inject(ctx context.Context, t Target) error {
	if err := checkWorker(t, f.worker); err != nil {
		return err
	}
	return t.KillWorker(ctx, f.worker)
}

func (f *workerCrash) Heal(ctx context.Context, t Target) error {
	return t.RestartWorker(ctx, f.worker)
}

// workerPause freezes an engine worker and thaws it when healed.
type workerPause struct{ worker int }

func buildWorkerPause(p *params) (Fault, error) {
	i, err := p.int("worker", 0)
	if err != nil {
		return nil, err
	}
	if i < 0 {
		return nil, fmt.Errorf("param worker: must be >= 0 (got %d)", i)
	}
	return &workerPause{worker: i}, nil
}

func (f *workerPause) Inject(_ context.Context, t Target) error {
	if err := checkWorker(t, f.worker); err != nil {
		return err
	}
	return t.PauseWorker(f.worker)
}

func (f *workerPause) Heal(_ context.Context, t Target) error { return t.ResumeWorker(f.worker) }

func checkWorker(t Target, i int) error {
	if n := t.Workers(); i >= n {
		return fmt.Errorf("worker %d: the engine has %d workers (0..%d)", i, n, n-1)
	}
	return nil
}

// WorkerScaler is what worker-add and worker-remove need from a Target:
// engine workers that join and leave the consumer group while the traffic
// flows (rebalances). A Target without it makes them fail with
// ErrUnsupported.
type WorkerScaler interface {
	// AddWorker starts an extra engine worker, which joins the consumer
	// group, and returns once it is ready; id is for RemoveWorker.
	AddWorker(ctx context.Context) (id int, err error)
	// RemoveWorker stops the extra worker id gracefully: it commits, and
	// leaves the group.
	RemoveWorker(ctx context.Context, id int) error
	// StopWorker stops engine worker i gracefully (it commits and leaves
	// the group); Target.RestartWorker starts it again.
	StopWorker(ctx context.Context, i int) error
}

// maxAdd bounds worker-add's count.
const maxAdd = 16

func workerScaler(t Target, kind string) (WorkerScaler, error) {
	s, ok := t.(WorkerScaler)
	if !ok {
		return nil, fmt.Errorf("%s needs engine workers that can join and leave the group: %w", kind, ErrUnsupported)
	}
	return s, nil
}

// workerAdd starts extra engine workers (a rebalance as they join) and
// removes them again when healed (another as they leave).
type workerAdd struct {
	count int

	mu  sync.Mutex
	ids []int
}

func buildWorkerAdd(p *params) (Fault, error) {
	n, err := p.int("count", 1)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > maxAdd {
		return nil, fmt.Errorf("param count: must be 1..%d (got %d)", maxAdd, n)
	}
	return &workerAdd{count: n}, nil
}

func (f *workerAdd) Inject(ctx context.Context, t Target) error {
	s, err := workerScaler(t, "worker-add")
	if err != nil {
		return err
	}
	for range f.count {
		id, err := s.AddWorker(ctx)
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.ids = append(f.ids, id)
		f.mu.Unlock()
	}
	return nil
}

// Heal removes every worker Inject added, also after a partial Inject.
func (f *workerAdd) Heal(ctx context.Context, t Target) error {
	s, err := workerScaler(t, "worker-add")
	if err != nil {
		return err
	}
	f.mu.Lock()
	ids := f.ids
	f.ids = nil
	f.mu.Unlock()
	var errs []error
	for _, id := range ids {
		errs = append(errs, s.RemoveWorker(ctx, id))
	}
	return errors.Join(errs...)
}

// workerRemove stops an engine worker gracefully (it leaves the group: a
// rebalance) and starts it again when healed.
type workerRemove struct{ worker int }

func buildWorkerRemove(p *params) (Fault, error) {
	i, err := p.int("worker", 0)
	if err != nil {
		return nil, err
	}
	if i < 0 {
		return nil, fmt.Errorf("param worker: must be >= 0 (got %d)", i)
	}
	return &workerRemove{worker: i}, nil
}

func (f *workerRemove) Inject(ctx context.Context, t Target) error {
	s, err := workerScaler(t, "worker-remove")
	if err != nil {
		return err
	}
	if err := checkWorker(t, f.worker); err != nil {
		return err
	}
	return s.StopWorker(ctx, f.worker)
}

func (f *workerRemove) Heal(ctx context.Context, t Target) error {
	return t.RestartWorker(ctx, f.worker)
}
