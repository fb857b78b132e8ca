package faults

import "context"

// sinkOutage kills the InfluxDB server and restarts it when healed.
type sinkOutage struct{}

func buildSinkOutage(*params) (Fault, error) { return sinkOutage{}, nil }

func (sinkOutage) Inject(_ context.Context, t Target) error { return t.KillSink() }

func (sinkOutage) Heal(ctx context.Context, t Target) error { return t.RestartSink(ctx) }
