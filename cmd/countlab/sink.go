package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/countlab/countlab/engine/sink"
	"github.com/countlab/countlab/harness/stack"
)

// cmdSink runs the sink: aggregates topic -> InfluxDB, until Ctrl-C; or,
// with --replay-dead-letter, replays the sink dead-letter topic once.
func cmdSink(ctx context.Context, args []string) error {
	fs := newFlagSet("sink")
	var kf kafkaFlags
	var inf influxFlags
	kf.register(fs)
	inf.register(fs)
	var (
		prefix       = fs.String("topic-prefix", "", "prefix of every topic name")
		group        = fs.String("group", sink.DefaultGroup, "consumer group")
		writeTimeout = fs.Duration("write-timeout", 10*time.Second, "timeout of every InfluxDB write")
		metricsAddr  = fs.String("metrics-listen", "", "serve Prometheus metrics on http://ADDR/metrics (empty: none)")
		replayOnly   = fs.Bool("replay-dead-letter", false, "replay the sink dead-letter topic into InfluxDB once, print the result as JSON and exit")
		retention    = retentionFlag(fs) // retention.go
	)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rc, err := retention()
	if err != nil {
		return err
	}
	conn, err := kf.connect(ctx) // kafkaconnect.go: a refused login is exit 2
	if err != nil {
		return err
	}
	ic, err := inf.connect(ctx) // kafkaconnect.go: refused credentials are exit 2
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	reg := stack.ProcessRegistry()
	s, err := sink.New(append([]sink.Opt{
		sink.Kafka(conn),
		sink.TopicPrefix(*prefix),
		sink.Group(*group),
		sink.Influx(ic),
		sink.WriteTimeout(*writeTimeout),
		sink.Logger(log),
		sink.Registerer(reg),
	}, sinkRetention(rc)...)...)
	if err != nil {
		return usageError{Err: err}
	}
	defer s.Close()
	if *replayOnly {
		res, err := s.ReplayDeadLetter(ctx)
		if err != nil {
			return err
		}
		return printJSON(os.Stdout, res)
	}
	if *metricsAddr != "" {
		addr, stop, err := serveMetrics(*metricsAddr, reg, log)
		if err != nil {
			return err
		}
		defer stop()
		log.Info("sink: metrics", "url", "http://"+addr+"/metrics")
	}
	fmt.Fprintf(os.Stderr, "countlab sink: kafka %s (topic %saggregates, group %s) -> influxdb %s\n", conn, *prefix, *group, ic)
	if err := s.Run(ctx); err != nil {
		return err
	}
	st := s.Stats()
	log.Info("sink: stopped", "consumed", st.Consumed, "written", st.Written, "dead_lettered", st.DeadLettered, "commits", st.Commits)
	return nil
}
