package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/countlab/countlab/harness/stack"
)

// cmdUp starts the whole embedded stack and keeps it running until Ctrl-C
// or SIGTERM, then stops it all and removes temp data (not --data-dir).
func cmdUp(ctx context.Context, args []string) error {
	fs := newFlagSet("up")
	var sf stackFlags
	sf.register(fs, true)
	if err := sf.parse(fs, args); err != nil {
		return err
	}
	st, err := startStack(ctx, &sf, sf.logger(os.Stderr))
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

try:
  curl -s%s -H 'Content-Type: application/json' http://%s/v1/events \
    -d '[{"id":"e-1","key":"video-42","type":"VIEW","ts":'$(date +%%s000)',"dims":{"country":"US"}}]'
  curl -s%s 'http://%s/v1/counts/video-42?type=VIEW'
  curl -s%s 'http://%s/v1/top?type=VIEW&n=10'
`, stops, st.Conn().String(), st.Topics().All(), st.Influx().URL, st.Influx().Bucket, st.GatewayAddr(), st.QueryAddr(), st.MetricsAddr(), st.Windows(),
		auth, st.GatewayAddr(), auth, st.QueryAddr(), auth, st.QueryAddr())
	fmt.Fprint(w, kcatHint(st.Conn(), st.Topics().Events)) // stacksecure.go
}
