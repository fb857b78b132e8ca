package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/sink"
)

// cmdSink runs the sink: aggregates topic -> InfluxDB, until Ctrl-C; or,
// with --replay-dead-letter, replays the sink dead-letter topic once.
func cmdSink(ctx context.Context, args []string) error {
	fs := newFlagSet("sink")
	var (
		brokers      = fs.String("brokers", "", "Kafka seed brokers, host:port[,...] (required)")
		prefix       = fs.String("topic-prefix", "", "prefix of every topic name")
		group        = fs.String("group", sink.DefaultGroup, "consumer group")
		saslMech     = fs.String("sasl-mechanism", "", "Kafka SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (password from COUNTLAB_KAFKA_PASSWORD[_FILE])")
		saslUser     = fs.String("sasl-user", "", "Kafka SASL user")
		useTLS       = fs.Bool("tls", false, "connect to Kafka with TLS")
		influxURL    = fs.String("influx-url", "", "InfluxDB base URL (required; token from COUNTLAB_INFLUX_TOKEN[_FILE])")
		influxOrg    = fs.String("influx-org", "countlab", "InfluxDB organization (ignored by 1.8)")
		influxBucket = fs.String("influx-bucket", "countlab/autogen", "InfluxDB bucket (db/rp on 1.8)")
		writeTimeout = fs.Duration("write-timeout", 10*time.Second, "timeout of every InfluxDB write")
		metricsAddr  = fs.String("metrics-listen", "", "serve Prometheus metrics on http://ADDR/metrics (empty: none)")
		replayOnly   = fs.Bool("replay-dead-letter", false, "replay the sink dead-letter topic into InfluxDB once, print the result as JSON and exit")
	)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: countlab sink --brokers host:port[,...] --influx-url URL [flags]\n\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	conn := kafka.Conn{Brokers: kafka.ParseBrokers(*brokers), SASLMechanism: *saslMech, SASLUser: *saslUser, TLS: *useTLS}
	if len(conn.Brokers) == 0 {
		return usagef("--brokers is required")
	}
	if err := conn.ConnFromEnv(); err != nil {
		return usagef("%v", err)
	}
	ic := influx.Config{URL: *influxURL, Org: *influxOrg, Bucket: *influxBucket}
	if err := ic.TokenFromEnv(); err != nil {
		return usagef("%v", err)
	}
	if err := ic.Validate(); err != nil {
		return usagef("%v (a managed influxd is not wired to this command yet)", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	reg := prometheus.NewRegistry()
	s, err := sink.New(
		sink.Kafka(conn),
		sink.TopicPrefix(*prefix),
		sink.Group(*group),
		sink.Influx(ic),
		sink.WriteTimeout(*writeTimeout),
		sink.Logger(log),
		sink.Registerer(reg),
	)
	if err != nil {
		return usageError{err}
	}
	defer s.Close()
	if *replayOnly {
		res, err := s.ReplayDeadLetter(ctx)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	if *metricsAddr != "" {
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return usagef("--metrics-listen: %v", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Warn("sink: metrics server", "err", err)
			}
		}()
		defer srv.Close()
		log.Info("sink: metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	}
	fmt.Fprintf(os.Stderr, "countlab sink: kafka %s (topic %saggregates, group %s) -> influxdb %s\n", conn, *prefix, *group, ic)
	if err := s.Run(ctx); err != nil {
		return err
	}
	st := s.Stats()
	log.Info("sink: stopped", "consumed", st.Consumed, "written", st.Written, "dead_lettered", st.DeadLettered, "commits", st.Commits)
	return nil
}
