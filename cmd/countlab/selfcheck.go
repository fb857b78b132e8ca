package main

import (
	"context"
	"flag"
	"os"
	"slices"
)

// cmdSelfcheck is `countlab run selfcheck`: the shipped selfcheck
// scenario (a small seeded workload with duplicates, malformed and
// out-of-order events, every window checked exactly) on the embedded
// stack, with run's flags.
func cmdSelfcheck(ctx context.Context, args []string) error {
	if slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }) {
		writeHelp(os.Stderr, helps["selfcheck"], nil)
		return flag.ErrHelp
	}
	return cmdRun(ctx, append([]string{"selfcheck"}, args...))
}
