package main

import "context"

// cmdSelfcheck is `countlab run selfcheck`: the shipped selfcheck
// scenario (a small seeded workload with duplicates, malformed and
// out-of-order events, every window checked exactly) on the embedded
// stack, with run's flags.
func cmdSelfcheck(ctx context.Context, args []string) error {
	return cmdRun(ctx, append([]string{"selfcheck"}, args...))
}
