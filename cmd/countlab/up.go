package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/countlab/countlab/harness/stack"
)

// cmdUp starts the whole embedded stack and keeps it running until Ctrl-C
// or SIGTERM, then stops it all and removes temp data (not --data-dir).
func cmdUp(ctx context.Context, args []string) error {
	fs := newFlagSet("up")
	var sf stackFlags
	sf.register(fs, true)
	hot := hotKeyFlag{}
	fs.Var(hot, "hot-key", "split a hot key over N partitions, KEY=N, N in 2..--partitions (repeatable): the gateway and every engine worker give its events the record key KEY#i (check the log with countlab check --from-log --hot-key KEY=N)")
	if err := sf.parse(fs, args); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(hot)) {
		if n := hot[k]; n < 2 || n > sf.partitions {
			return usagef("--hot-key %s=%d: split a key 2..--partitions (%d) ways", k, n, sf.partitions)
		}
	}
	st, err := startStack(ctx, &sf, sf.logger(os.Stderr), stack.HotKeys(hot))
	if err != nil {
		return err
	}
	defer st.Close()
	writeUpBanner(os.Stdout, st, &sf)
	select {
	case <-ctx.Done():
	case <-st.Failed():
		return st.Err()
	}
	fmt.Println("countlab up: stopping")
	return nil
}

// writeUpBanner is what countlab up prints once the stack runs: every
// address and curl commands to try.
func writeUpBanner(w io.Writer, st *stack.Stack, sf *stackFlags) {
	auth := ""
	if t, _ := tokenFromEnv(); t != "" {
		auth = ` -H "Authorization: Bearer $COUNTLAB_TOKEN"`
	}
	hotLine := ""
	if hot := st.HotKeys(); len(hot) > 0 {
		kv := hotKeyFlag(hot).pairs() // gateway.go
		hotLine = fmt.Sprintf("  hot keys       %s   (record keys KEY#i; check the log with --hot-key %s)\n",
			strings.Join(kv, ","), strings.Join(kv, " --hot-key "))
	}
	stops := "Ctrl-C stops it and removes its temp data"
	if sf.dataDir != "" {
		stops = "Ctrl-C stops it; the data stays in " + sf.dataDir
	}
	fmt.Fprintf(w, `countlab up: the embedded stack is running (%s)
  kafka brokers  %s   topics: %s
  influxdb       %s   bucket %s
  gateway        http://%s   (POST /v1/events, /healthz, /metrics)
  query          http://%s   (GET /v1/counts/{key}, /v1/stats/{key}, /v1/top, /metrics)
  metrics        http://%s/metrics   (every part: engine, sink, gateway, query)
  windows        %v
%s
try:
  curl -s%s -H 'Content-Type: application/json' http://%s/v1/events \
    -d '[{"id":"e-1","key":"video-42","type":"VIEW","ts":'$(date +%%s000)',"dims":{"country":"US"}}]'
  curl -s%s 'http://%s/v1/counts/video-42?type=VIEW'
  curl -s%s 'http://%s/v1/top?type=VIEW&n=10'
`, stops, st.Conn().String(), st.Topics().All(), st.Influx().URL, st.Influx().Bucket, st.GatewayAddr(), st.QueryAddr(), st.MetricsAddr(), st.Windows(), hotLine,
		auth, st.GatewayAddr(), auth, st.QueryAddr(), auth, st.QueryAddr())
	fmt.Fprint(w, kcatHint(st.Conn(), st.Topics().Events)) // stacksecure.go
}
