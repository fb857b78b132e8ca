package faults

import (
	"context"
	"fmt"
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
